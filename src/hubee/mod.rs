//! HubEE subscriptions beyond the table: provisioning through the HubEE API (create/update,
//! retried with backoff, never silently dropped) and the sync that reads HubEE back and
//! records every change or unreconcilable difference.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::clients::hubee::{
    DelegationActor, HubeeClient, HubeeError, LocalAdministrator, NewLocalAdministrator,
    NewOrganization, NewSubscription, RemoteSubscription, SUBSCRIBER_KIND, Subscriber,
};
use crate::db::new_id;
use crate::db::schema::{
    collectivites, habilitation_requests, hubee_provisioning, hubee_subscriptions,
    hubee_sync_issues, request_contacts,
};
use crate::db::{DbConnection, Pool};
use crate::models::events;
use crate::models::hubee::{HubeeSubscription, PROCESS_CODE};

/// Waiting to be sent to HubEE (first try or retry).
pub const PENDING: &str = "pending";
/// HubEE has the subscription as the back office knows it.
pub const DONE: &str = "done";
/// Given up (a refusal, or too many failures); staff can retry by hand.
pub const FAILED: &str = "failed";
/// Failures before giving up: with a 30 s first delay doubled up to one hour, about a day.
pub const MAX_ATTEMPTS: i32 = 30;

/// A provisioning row, for pages.
#[derive(Clone, Debug, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = hubee_provisioning)]
pub struct Provisioning {
    pub subscription_id: String,
    pub state: String,
    pub operation: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub locked_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub updated_at: NaiveDateTime,
    /// `found` or `created` once HubEE's organization step is done.
    pub organization: Option<String>,
}

/// The French label of a provisioning state, given whether HubEE is configured.
pub fn state_label(state: Option<&str>, configured: bool) -> &'static str {
    match (configured, state) {
        (false, _) => "Non configuré (gestion à la main)",
        (true, None) => "Non provisionné",
        (true, Some(PENDING)) => "En attente",
        (true, Some(DONE)) => "À jour dans HubEE",
        (true, Some(FAILED)) => "En échec",
        (true, Some(_)) => "Inconnu",
    }
}

/// Asks for the subscription to be sent to HubEE (created if it has no HubEE id yet, updated
/// otherwise), now. Call it in the transaction of the change that needs it.
pub fn request_provisioning(
    conn: &mut DbConnection,
    subscription_id: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let updated = crate::db::cached::update(
        hubee_provisioning::table,
        hubee_provisioning::subscription_id.eq(subscription_id),
        (
            hubee_provisioning::state.eq(PENDING),
            hubee_provisioning::attempts.eq(0),
            hubee_provisioning::next_attempt_at.eq(now),
            hubee_provisioning::updated_at.eq(now),
        ),
    )
    .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(hubee_provisioning::table)
            .values((
                hubee_provisioning::subscription_id.eq(subscription_id),
                hubee_provisioning::state.eq(PENDING),
                hubee_provisioning::operation.eq("sync"),
                hubee_provisioning::attempts.eq(0),
                hubee_provisioning::next_attempt_at.eq(now),
                hubee_provisioning::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The provisioning row of a subscription.
pub fn provisioning_of(
    conn: &mut DbConnection,
    subscription_id: &str,
) -> QueryResult<Option<Provisioning>> {
    hubee_provisioning::table
        .find(subscription_id)
        .select(Provisioning::as_select())
        .first(conn)
        .optional()
}

/// The delay before attempt `attempts + 1`.
pub fn backoff(base: std::time::Duration, attempts: i32) -> Duration {
    crate::mail::outbox::backoff(base, attempts)
}

/// The HubEE representation of a local subscription.
pub fn remote_of(
    subscription: &HubeeSubscription,
    siret: &str,
    commune_code: Option<&str>,
) -> RemoteSubscription {
    let status = subscription.status;
    RemoteSubscription {
        id: subscription.hubee_id.clone(),
        process_code: PROCESS_CODE.to_owned(),
        status: status.label_fr().to_owned(),
        access_mode: Some(subscription.access_mode.clone()),
        notification_frequency: Some(subscription.notification_frequency.clone()),
        email: subscription.notification_email.clone(),
        data_pass_id: subscription.datapass_id.map(|d| format!("D{d}")),
        subscriber: Subscriber {
            kind: "SI".to_owned(),
            company_register: siret.to_owned(),
            branch_code: commune_code.map(str::to_owned),
        },
        local_administrator: subscription
            .local_admin_email
            .clone()
            .map(|email| LocalAdministrator { email }),
        delegation_actor: subscription.delegation_editeur_siret.clone().map(|siret| {
            DelegationActor {
                kind: "EDT".to_owned(),
                company_register: siret,
            }
        }),
        activate_date_time: subscription
            .activation_date
            .map(|d| format!("{d}T00:00:00Z")),
        end_date_time: subscription.end_date.map(|d| format!("{d}T00:00:00Z")),
        creation_date_time: None,
        update_date_time: None,
    }
}

/// A subscription claimed for provisioning, with what HubEE needs about its collectivité.
struct Claimed {
    subscription: HubeeSubscription,
    siret: String,
    cog: Option<String>,
    name: String,
    postal_code: Option<String>,
    /// `found` or `created` once HubEE's organization step is done.
    organization: Option<String>,
    attempts: i32,
    /// The local administrator's first and last names (the demandeur's).
    admin_names: (Option<String>, Option<String>),
}

/// Requests one provisioning may make: token, organization lookup and creation, subscription
/// creation, and the list pages read when HubEE answers that it already exists.
const PROVISIONING_CALLS: u32 = 6;

/// Claims the due jobs in one write transaction: on SQLite it waits its turn once in the
/// process's writer queue instead of sleeping in `busy_timeout` for each claim.
fn claim_due(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    timeout: std::time::Duration,
) -> QueryResult<Vec<Claimed>> {
    crate::db::transaction(conn, |conn| claim_due_in(conn, now, timeout))
}

fn claim_due_in(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    timeout: std::time::Duration,
) -> QueryResult<Vec<Claimed>> {
    let due = || {
        hubee_provisioning::state.eq(PENDING).and(
            hubee_provisioning::next_attempt_at
                .le(now)
                .and(hubee_provisioning::locked_until.is_null())
                .or(hubee_provisioning::locked_until.lt(now)),
        )
    };
    let ids: Vec<String> = hubee_provisioning::table
        .filter(due())
        .order(hubee_provisioning::next_attempt_at.asc())
        .limit(20)
        .select(hubee_provisioning::subscription_id)
        .load(conn)?;
    let locked_until = now + crate::jobs::lease(timeout, PROVISIONING_CALLS, ids.len());
    let mut claimed = Vec::new();
    for id in ids {
        let won = diesel::update(
            hubee_provisioning::table
                .filter(hubee_provisioning::subscription_id.eq(&id))
                .filter(due()),
        )
        .set(hubee_provisioning::locked_until.eq(Some(locked_until)))
        .execute(conn)?;
        if won == 1 {
            let (subscription, siret, cog, name, postal_code): (
                HubeeSubscription,
                String,
                Option<String>,
                String,
                Option<String>,
            ) = hubee_subscriptions::table
                .inner_join(collectivites::table)
                .filter(hubee_subscriptions::id.eq(&id))
                .select((
                    HubeeSubscription::as_select(),
                    collectivites::siret,
                    collectivites::cog,
                    collectivites::name,
                    collectivites::postal_code,
                ))
                .first(conn)?;
            let (attempts, organization): (i32, Option<String>) = hubee_provisioning::table
                .find(&id)
                .select((
                    hubee_provisioning::attempts,
                    hubee_provisioning::organization,
                ))
                .first(conn)?;
            let admin_names = match &subscription.local_admin_email {
                Some(email) => request_contacts::table
                    .inner_join(habilitation_requests::table)
                    .filter(
                        habilitation_requests::collectivite_id.eq(&subscription.collectivite_id),
                    )
                    .filter(request_contacts::email.eq(email))
                    .order(habilitation_requests::updated_at.desc())
                    .select((request_contacts::given_name, request_contacts::family_name))
                    .first(conn)
                    .optional()?
                    .unwrap_or((None, None)),
                None => (None, None),
            };
            claimed.push(Claimed {
                subscription,
                siret,
                cog,
                name,
                postal_code,
                organization,
                attempts,
                admin_names,
            });
        }
    }
    Ok(claimed)
}

/// Sends every due provisioning to HubEE once; returns how many succeeded. A creation first
/// makes sure the organization `SI-<SIRET>-<COG>` exists (creating it on 404; an existing one
/// means the collectivité had a HubEE account), then creates the subscription `Inactif`,
/// adopting an existing one.
pub async fn provision_due(
    state: &actix_web::web::Data<crate::state::AppState>,
    client: &HubeeClient,
    retry_delay: std::time::Duration,
) -> anyhow::Result<usize> {
    let pool = &state.pool;
    let mut done = 0;
    let timeout = client.timeout();
    loop {
        let claim_pool = pool.clone();
        let batch = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<Claimed>> {
            let mut conn = claim_pool.get()?;
            Ok(claim_due(&mut conn, crate::db::now(), timeout)?)
        })
        .await??;
        if batch.is_empty() {
            return Ok(done);
        }
        for claimed in batch {
            let outcome = match &claimed.subscription.hubee_id {
                None => create_with_organization(state, client, &claimed).await,
                Some(id) => {
                    let remote = remote_of(
                        &claimed.subscription,
                        &claimed.siret,
                        claimed.cog.as_deref(),
                    );
                    client.update_subscription(id, &remote).await
                }
            };
            let record_state = state.clone();
            let succeeded = outcome.is_ok();
            let subscription = claimed.subscription.clone();
            let attempts = claimed.attempts;
            tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                let mut conn = record_state.pool.get()?;
                let now = crate::db::now();
                crate::db::transaction(&mut conn, |conn| -> anyhow::Result<()> {
                    let gave_up =
                        record_outcome(conn, &subscription, outcome, attempts, retry_delay, now)?;
                    if gave_up {
                        // The e-mail must not wait for ever: sent with what is known.
                        crate::provisioning::release_approval_mails(
                            conn,
                            &record_state,
                            &subscription.collectivite_id,
                            now,
                        )
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    }
                    Ok(())
                })?;
                Ok(())
            })
            .await??;
            if succeeded {
                done += 1;
            }
        }
    }
}

/// The organization step (once), then the subscription's creation.
async fn create_with_organization(
    state: &actix_web::web::Data<crate::state::AppState>,
    client: &HubeeClient,
    claimed: &Claimed,
) -> Result<RemoteSubscription, HubeeError> {
    let subscription = &claimed.subscription;
    let Some(cog) = claimed.cog.clone() else {
        return Err(HubeeError::Incomplete(
            "la collectivité n'a pas de code commune (COG), nécessaire à son organisation HubEE : renseignez-le puis relancez.".to_owned(),
        ));
    };
    let Some(admin_email) = subscription.local_admin_email.clone() else {
        return Err(HubeeError::Incomplete(
            "l'abonnement n'a pas d'administrateur local (le demandeur).".to_owned(),
        ));
    };
    if claimed.organization.is_none() {
        let organization_id = NewOrganization::id_of(&claimed.siret, &cog);
        let found = client.get_organization(&organization_id).await?.is_some();
        if !found {
            client
                .create_organization(&NewOrganization {
                    kind: SUBSCRIBER_KIND.to_owned(),
                    company_register: claimed.siret.clone(),
                    branch_code: cog.clone(),
                    email: admin_email.clone(),
                    name: claimed.name.clone(),
                    country: "France".to_owned(),
                    postal_code: claimed.postal_code.clone(),
                    territory: cog.clone(),
                    status: "Actif".to_owned(),
                })
                .await?;
        }
        let record_state = state.clone();
        let subscription_id = subscription.id.clone();
        let collectivite_id = subscription.collectivite_id.clone();
        let recorded = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let mut conn = record_state.pool.get()?;
            let now = crate::db::now();
            crate::db::transaction(&mut conn, |conn| -> anyhow::Result<()> {
                record_organization(
                    conn,
                    &subscription_id,
                    &collectivite_id,
                    found,
                    &organization_id,
                    now,
                )?;
                crate::provisioning::release_approval_mails(
                    conn,
                    &record_state,
                    &collectivite_id,
                    now,
                )
                .map_err(|e| anyhow::anyhow!("{e}"))?;
                Ok(())
            })
        })
        .await;
        if !matches!(recorded, Ok(Ok(()))) {
            // Not recorded: the next attempt asks HubEE again (it then finds the organization).
            return Err(HubeeError::Unavailable(
                "résultat de l'étape organisation non enregistré.".to_owned(),
            ));
        }
    }
    if subscription.datapass_id.is_none() {
        return Err(HubeeError::Incomplete(
            "la demande n'a pas de numéro DataPass, exigé par HubEE pour un abonnement : créez l'abonnement sur le portail HubEE ou rattachez la demande à DataPass.".to_owned(),
        ));
    }
    let now = crate::db::now().format("%Y-%m-%dT%H:%M:%S").to_string();
    let new = NewSubscription {
        datapass_id: subscription.datapass_id,
        process_code: PROCESS_CODE.to_owned(),
        subscriber: Subscriber::collectivite(claimed.siret.clone(), Some(cog)),
        email: subscription.notification_email.clone(),
        status: "Inactif".to_owned(),
        notification_frequency: subscription.notification_frequency.clone(),
        local_administrator: NewLocalAdministrator {
            email: admin_email,
            first_name: claimed.admin_names.0.clone(),
            last_name: claimed.admin_names.1.clone(),
        },
        validate_date_time: now.clone(),
        update_date_time: now,
    };
    let (id, adopted) = client.create_inactive_subscription(&new).await?;
    if adopted {
        tracing::info!(subscription = %subscription.id, hubee_id = %id, "abonnement HubEE existant adopté");
    }
    Ok(RemoteSubscription {
        id: Some(id),
        process_code: PROCESS_CODE.to_owned(),
        status: "Inactif".to_owned(),
        subscriber: new.subscriber,
        ..RemoteSubscription::default()
    })
}

/// Records HubEE's organization step: whether the collectivité already had an account.
fn record_organization(
    conn: &mut DbConnection,
    subscription_id: &str,
    collectivite_id: &str,
    found: bool,
    organization_id: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(hubee_provisioning::table.find(subscription_id))
        .set(hubee_provisioning::organization.eq(Some(if found { "found" } else { "created" })))
        .execute(conn)?;
    diesel::update(collectivites::table.find(collectivite_id))
        .set(collectivites::had_hubee_account.eq(found))
        .execute(conn)?;
    events::record(
        conn,
        now,
        "system",
        if found {
            "hubee.organization_found"
        } else {
            "hubee.organization_create"
        },
        ("collectivite", collectivite_id),
        Some(if found {
            format!(
                "organisation HubEE {organization_id} existante : la collectivité avait un compte HubEE"
            )
        } else {
            format!("organisation HubEE {organization_id} créée")
        }),
    )?;
    Ok(())
}

fn record_outcome(
    conn: &mut DbConnection,
    subscription: &HubeeSubscription,
    outcome: Result<RemoteSubscription, HubeeError>,
    attempts: i32,
    retry_delay: std::time::Duration,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let id = &subscription.id;
    let mut gave_up = false;
    match outcome {
        Ok(remote) => {
            if subscription.hubee_id.is_none()
                && let Some(hubee_id) = &remote.id
            {
                diesel::update(hubee_subscriptions::table.find(id))
                    .set((
                        hubee_subscriptions::hubee_id.eq(Some(hubee_id)),
                        hubee_subscriptions::updated_at.eq(now),
                    ))
                    .execute(conn)?;
            }
            diesel::update(hubee_provisioning::table.find(id))
                .set((
                    hubee_provisioning::state.eq(DONE),
                    hubee_provisioning::attempts.eq(attempts + 1),
                    hubee_provisioning::locked_until.eq(None::<NaiveDateTime>),
                    hubee_provisioning::last_error.eq(None::<String>),
                    hubee_provisioning::updated_at.eq(now),
                ))
                .execute(conn)?;
            events::record(
                conn,
                now,
                "system",
                if subscription.hubee_id.is_none() {
                    "hubee.provision_create"
                } else {
                    "hubee.provision_update"
                },
                ("hubee_subscription", id),
                remote.id.map(|h| format!("abonnement HubEE {h}")),
            )?;
        }
        Err(error) => {
            let attempts = attempts + 1;
            let give_up = !error.is_retryable() || attempts >= MAX_ATTEMPTS;
            let message: String = error.to_string().chars().take(500).collect();
            diesel::update(hubee_provisioning::table.find(id))
                .set((
                    hubee_provisioning::state.eq(if give_up { FAILED } else { PENDING }),
                    hubee_provisioning::attempts.eq(attempts),
                    hubee_provisioning::next_attempt_at.eq(now + backoff(retry_delay, attempts)),
                    hubee_provisioning::locked_until.eq(None::<NaiveDateTime>),
                    hubee_provisioning::last_error.eq(Some(&message)),
                    hubee_provisioning::updated_at.eq(now),
                ))
                .execute(conn)?;
            tracing::warn!(subscription = %id, attempts, error = %message, "provisionnement HubEE en échec");
            gave_up = give_up;
            if give_up {
                events::record(
                    conn,
                    now,
                    "system",
                    "hubee.provision_failed",
                    ("hubee_subscription", id),
                    Some(message),
                )?;
            }
        }
    }
    Ok(gave_up)
}

/// What a sync did.
#[derive(Debug, Default)]
pub struct SyncReport {
    /// Remote subscriptions read.
    pub read: usize,
    /// Local subscriptions changed, with what changed.
    pub changes: Vec<String>,
    /// Differences recorded for staff.
    pub issues: Vec<String>,
}

/// Reads HubEE's FormulaireQF subscriptions and updates the local ones.
pub async fn sync(pool: &Pool, client: &HubeeClient) -> anyhow::Result<SyncReport> {
    let remote = client
        .list_subscriptions(Some(PROCESS_CODE), None, None)
        .await
        .map_err(|e| anyhow::anyhow!("HubEE : {e}"))?;
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<SyncReport> {
        let mut conn = pool.get()?;
        let now = crate::db::now();
        Ok(crate::db::transaction(&mut conn, |conn| {
            reconcile(conn, &remote, now)
        })?)
    })
    .await?
}

fn open_issue(
    conn: &mut DbConnection,
    subscription_id: Option<&str>,
    hubee_id: Option<&str>,
    siret: Option<&str>,
    kind: &str,
    details: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    // One open issue per (kind, hubee id, subscription): a repeated sync does not pile up.
    let mut existing = hubee_sync_issues::table
        .filter(hubee_sync_issues::kind.eq(kind))
        .filter(hubee_sync_issues::resolved_at.is_null())
        .into_boxed();
    existing = match hubee_id {
        Some(h) => existing.filter(hubee_sync_issues::hubee_id.eq(h.to_owned())),
        None => existing.filter(hubee_sync_issues::hubee_id.is_null()),
    };
    existing = match subscription_id {
        Some(s) => existing.filter(hubee_sync_issues::subscription_id.eq(s.to_owned())),
        None => existing.filter(hubee_sync_issues::subscription_id.is_null()),
    };
    let count: i64 = existing.count().get_result(conn)?;
    if count > 0 {
        return Ok(false);
    }
    diesel::insert_into(hubee_sync_issues::table)
        .values((
            hubee_sync_issues::id.eq(new_id()),
            hubee_sync_issues::subscription_id.eq(subscription_id),
            hubee_sync_issues::hubee_id.eq(hubee_id),
            hubee_sync_issues::siret.eq(siret),
            hubee_sync_issues::kind.eq(kind),
            hubee_sync_issues::details.eq(details),
            hubee_sync_issues::detected_at.eq(now),
        ))
        .execute(conn)?;
    Ok(true)
}

fn reconcile(
    conn: &mut DbConnection,
    remote: &[RemoteSubscription],
    now: NaiveDateTime,
) -> QueryResult<SyncReport> {
    let mut report = SyncReport {
        read: remote.len(),
        ..SyncReport::default()
    };
    let locals: Vec<(HubeeSubscription, String)> = hubee_subscriptions::table
        .inner_join(collectivites::table)
        .filter(hubee_subscriptions::process_code.eq(PROCESS_CODE))
        .select((HubeeSubscription::as_select(), collectivites::siret))
        .load(conn)?;
    let pending: Vec<String> = hubee_provisioning::table
        .filter(hubee_provisioning::state.eq(PENDING))
        .select(hubee_provisioning::subscription_id)
        .load(conn)?;
    let mut seen: Vec<String> = Vec::new();
    for item in remote {
        let local = locals
            .iter()
            .find(|(l, _)| l.hubee_id.is_some() && l.hubee_id == item.id)
            .or_else(|| {
                locals.iter().find(|(l, siret)| {
                    l.hubee_id.is_none() && *siret == item.subscriber.company_register
                })
            });
        let Some((local, _)) = local else {
            if open_issue(
                conn,
                None,
                item.id.as_deref(),
                Some(&item.subscriber.company_register),
                "remote_only",
                &format!(
                    "Abonnement présent dans HubEE (SIRET {}, statut {}) sans équivalent dans le back-office.",
                    item.subscriber.company_register, item.status
                ),
                now,
            )? {
                report.issues.push(format!(
                    "HubEE seul : SIRET {}",
                    item.subscriber.company_register
                ));
            }
            continue;
        };
        seen.push(local.id.clone());
        if pending.contains(&local.id) {
            // A local change is on its way to HubEE: the next sync will compare again.
            continue;
        }
        let Some(status) = item.status_code() else {
            if open_issue(
                conn,
                Some(&local.id),
                item.id.as_deref(),
                Some(&item.subscriber.company_register),
                "unknown_status",
                &format!("Statut HubEE inconnu : « {} ».", item.status),
                now,
            )? {
                report
                    .issues
                    .push(format!("statut inconnu « {} »", item.status));
            }
            continue;
        };
        let mut changes = Vec::new();
        let mut update_status = None;
        let mut update_activation: Option<Option<NaiveDate>> = None;
        let mut update_end: Option<Option<NaiveDate>> = None;
        let mut update_mode = None;
        if local.status != status {
            changes.push(format!(
                "statut {} → {}",
                local.status.as_str(),
                status.as_str()
            ));
            update_status = Some(status);
        }
        if item.activate_date_time.is_some() && item.activation_date() != local.activation_date {
            changes.push(format!(
                "activation {:?} → {:?}",
                local.activation_date,
                item.activation_date()
            ));
            update_activation = Some(item.activation_date());
        }
        if item.end_date() != local.end_date {
            changes.push(format!("fin {:?} → {:?}", local.end_date, item.end_date()));
            update_end = Some(item.end_date());
        }
        if let Some(mode) = &item.access_mode
            && *mode != local.access_mode
        {
            changes.push(format!("mode {} → {mode}", local.access_mode));
            update_mode = Some(mode.clone());
        }
        let mut update_delegation: Option<Option<String>> = None;
        let remote_delegation = item
            .delegation_actor
            .as_ref()
            .map(|d| d.company_register.clone());
        if item.access_mode.is_some() && remote_delegation != local.delegation_editeur_siret {
            changes.push(format!(
                "délégation {} → {}",
                local
                    .delegation_editeur_siret
                    .as_deref()
                    .unwrap_or("aucune"),
                remote_delegation.as_deref().unwrap_or("aucune")
            ));
            update_delegation = Some(remote_delegation);
        }
        let hubee_id_missing = local.hubee_id.is_none();
        if changes.is_empty() && !hubee_id_missing {
            continue;
        }
        diesel::update(hubee_subscriptions::table.find(&local.id))
            .set(
                (
                    hubee_subscriptions::status.eq(update_status.unwrap_or(local.status)),
                    hubee_subscriptions::activation_date
                        .eq(update_activation.unwrap_or(local.activation_date)),
                    hubee_subscriptions::end_date.eq(update_end.unwrap_or(local.end_date)),
                    hubee_subscriptions::access_mode
                        .eq(update_mode.unwrap_or_else(|| local.access_mode.clone())),
                    hubee_subscriptions::hubee_id.eq(local.hubee_id.clone().or(item.id.clone())),
                    hubee_subscriptions::delegation_editeur_siret
                        .eq(update_delegation
                            .unwrap_or_else(|| local.delegation_editeur_siret.clone())),
                    hubee_subscriptions::updated_at.eq(now),
                ),
            )
            .execute(conn)?;
        if hubee_id_missing {
            changes.push("identifiant HubEE rattaché".to_owned());
        }
        let summary = changes.join(", ");
        events::record(
            conn,
            now,
            "hubee-sync",
            "hubee.sync",
            ("hubee_subscription", &local.id),
            Some(summary.clone()),
        )?;
        report
            .changes
            .push(format!("{} : {summary}", item.subscriber.company_register));
    }
    for (local, siret) in &locals {
        if let Some(hubee_id) = &local.hubee_id
            && !seen.contains(&local.id)
            && open_issue(
                conn,
                Some(&local.id),
                Some(hubee_id),
                Some(siret),
                "missing_remote",
                &format!(
                    "L'abonnement HubEE {hubee_id} (SIRET {siret}) n'est plus renvoyé par HubEE."
                ),
                now,
            )?
        {
            report
                .issues
                .push(format!("absent de HubEE : SIRET {siret}"));
        }
    }
    Ok(report)
}

/// Runs provisioning (every few seconds) and the sync (every `sync_interval`) until the
/// process stops.
pub fn spawn_jobs(state: actix_web::web::Data<crate::state::AppState>) {
    let (Some(client), Some(settings)) = (state.hubee.clone(), state.settings.hubee.clone()) else {
        return;
    };
    let provisioning_state = state.clone();
    let provisioning_client = client.clone();
    let retry = settings.retry_delay;
    tokio::spawn(async move {
        loop {
            if let Err(e) = provision_due(&provisioning_state, &provisioning_client, retry).await {
                tracing::warn!(error = %format!("{e:#}"), "provisionnement HubEE");
            }
            tokio::select! {
                () = tokio::time::sleep(std::time::Duration::from_secs(5).min(retry)) => {}
                () = provisioning_state.hubee_wakeup.notified() => {}
            }
        }
    });
    tokio::spawn(async move {
        loop {
            match sync(&state.pool, &client).await {
                Ok(report) if !report.changes.is_empty() || !report.issues.is_empty() => {
                    tracing::info!(
                        changes = report.changes.len(),
                        issues = report.issues.len(),
                        "synchronisation HubEE"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "synchronisation HubEE"),
            }
            tokio::time::sleep(settings.sync_interval).await;
        }
    });
}
