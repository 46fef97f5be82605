//! HubEE subscriptions beyond the table: provisioning through the HubEE API (create/update,
//! retried with backoff, never silently dropped) and the sync that reads HubEE back and
//! records every change or unreconcilable difference.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::clients::hubee::{
    DelegationActor, HubeeClient, HubeeError, LocalAdministrator, RemoteSubscription, Subscriber,
};
use crate::db::schema::{
    collectivites, hubee_provisioning, hubee_subscriptions, hubee_sync_issues,
};
use crate::db::{DbConnection, Pool};
use crate::domain::hubee::SubscriptionStatus;
use crate::models::hubee::{HubeeSubscription, PROCESS_CODE};
use crate::models::{events, new_id};

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
    let updated = diesel::update(hubee_provisioning::table.find(subscription_id))
        .set((
            hubee_provisioning::state.eq(PENDING),
            hubee_provisioning::attempts.eq(0),
            hubee_provisioning::next_attempt_at.eq(now),
            hubee_provisioning::updated_at.eq(now),
        ))
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
    let status = subscription
        .status
        .parse::<SubscriptionStatus>()
        .unwrap_or(SubscriptionStatus::Inactif);
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

type Claimed = (HubeeSubscription, String, Option<String>, i32);

fn claim_due(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<Vec<Claimed>> {
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
    let mut claimed = Vec::new();
    for id in ids {
        let won = diesel::update(
            hubee_provisioning::table
                .filter(hubee_provisioning::subscription_id.eq(&id))
                .filter(due()),
        )
        .set(hubee_provisioning::locked_until.eq(Some(now + Duration::minutes(5))))
        .execute(conn)?;
        if won == 1 {
            let (subscription, siret, cog): (HubeeSubscription, String, Option<String>) =
                hubee_subscriptions::table
                    .inner_join(collectivites::table)
                    .filter(hubee_subscriptions::id.eq(&id))
                    .select((
                        HubeeSubscription::as_select(),
                        collectivites::siret,
                        collectivites::cog,
                    ))
                    .first(conn)?;
            let attempts: i32 = hubee_provisioning::table
                .find(&id)
                .select(hubee_provisioning::attempts)
                .first(conn)?;
            claimed.push((subscription, siret, cog, attempts));
        }
    }
    Ok(claimed)
}

/// Sends every due provisioning to HubEE once; returns how many succeeded.
pub async fn provision_due(
    pool: &Pool,
    client: &HubeeClient,
    retry_delay: std::time::Duration,
) -> anyhow::Result<usize> {
    let mut done = 0;
    loop {
        let claim_pool = pool.clone();
        let batch = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<Claimed>> {
            let mut conn = claim_pool.get()?;
            Ok(claim_due(&mut conn, crate::models::now())?)
        })
        .await??;
        if batch.is_empty() {
            return Ok(done);
        }
        for (subscription, siret, cog, attempts) in batch {
            let remote = remote_of(&subscription, &siret, cog.as_deref());
            let outcome = match &subscription.hubee_id {
                None => client.create_subscription(&remote).await,
                Some(id) => client.update_subscription(id, &remote).await,
            };
            let record_pool = pool.clone();
            let succeeded = outcome.is_ok();
            tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                let mut conn = record_pool.get()?;
                let now = crate::models::now();
                crate::db::transaction(&mut conn, |conn| {
                    record_outcome(conn, &subscription, outcome, attempts, retry_delay, now)
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

fn record_outcome(
    conn: &mut DbConnection,
    subscription: &HubeeSubscription,
    outcome: Result<RemoteSubscription, HubeeError>,
    attempts: i32,
    retry_delay: std::time::Duration,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let id = &subscription.id;
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
    Ok(())
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
        let now = crate::models::now();
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
        if local.status != status.as_str() {
            changes.push(format!("statut {} → {}", local.status, status.as_str()));
            update_status = Some(status.as_str().to_owned());
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
        let hubee_id_missing = local.hubee_id.is_none();
        if changes.is_empty() && !hubee_id_missing {
            continue;
        }
        diesel::update(hubee_subscriptions::table.find(&local.id))
            .set((
                hubee_subscriptions::status
                    .eq(update_status.unwrap_or_else(|| local.status.clone())),
                hubee_subscriptions::activation_date
                    .eq(update_activation.unwrap_or(local.activation_date)),
                hubee_subscriptions::end_date.eq(update_end.unwrap_or(local.end_date)),
                hubee_subscriptions::access_mode
                    .eq(update_mode.unwrap_or_else(|| local.access_mode.clone())),
                hubee_subscriptions::hubee_id.eq(local.hubee_id.clone().or(item.id.clone())),
                hubee_subscriptions::updated_at.eq(now),
            ))
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
            if let Err(e) =
                provision_due(&provisioning_state.pool, &provisioning_client, retry).await
            {
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
