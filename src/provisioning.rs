//! What makes a collectivité's form live once its request is approved: the HubEE
//! subscription (created through [`crate::hubee`]), the activation of the collectivité in the
//! formulaire QF (a durable queue here, retried with backoff, never silently dropped), the
//! check that its form is online, and the approval e-mail held until HubEE says whether the
//! collectivité already had an account.
//!
//! Entry points: [`record_payload_facts`] (from the DataPass webhook), [`on_request_approved`]
//! (from every approval), [`request_by_staff`] (staff action), [`spawn_jobs`] (workers).

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::Value;

use crate::clients::form::{Activated, FormClient, FormError, NewCollectivite};
use crate::db::schema::{
    collectivites, form_activations, habilitation_requests, hubee_provisioning,
    hubee_subscriptions, pending_approval_mails, request_provisioning_facts,
};
use crate::db::{DbConnection, Pool};
use crate::models::events;
use crate::models::hubee::PROCESS_CODE;

/// The DataPass modality that asks for the formulaire QF.
pub const FORMULAIRE_QF: &str = "formulaire_qf";

/// Waiting to be sent to the form (first try or retry).
pub const PENDING: &str = "pending";
/// The form has the collectivité (201 or 409).
pub const DONE: &str = "done";
/// Refused (422…) or too many failures: staff retry by hand.
pub const FAILED: &str = "failed";
/// Failures before giving up: with a 30 s first delay doubled up to one hour, about a day.
pub const MAX_ATTEMPTS: i32 = 30;

/// The modalities of a DataPass request (`data.data.modalities`: an array, or a string
/// separated by commas), lower-cased.
pub fn modalities_of(data: &HashMap<String, Value>) -> Vec<String> {
    let mut out: Vec<String> = match data.get("modalities") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(s)) => s.split(',').map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    out = out
        .into_iter()
        .map(|m| m.trim().to_ascii_lowercase())
        .filter(|m| !m.is_empty())
        .collect();
    out.dedup();
    out
}

/// The DataPass `service_provider.id` (a number or a string), if any.
pub fn service_provider_id(service_provider: Option<&Value>) -> Option<String> {
    match service_provider?.get("id")? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Remembers what provisioning needs from a DataPass payload (modalities, éditeur id).
pub fn record_payload_facts(
    conn: &mut DbConnection,
    request_id: &str,
    data: &HashMap<String, Value>,
    service_provider: Option<&Value>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let modalities = modalities_of(data).join(",");
    let provider = service_provider_id(service_provider);
    let updated = crate::db::cached::update(
        request_provisioning_facts::table,
        request_provisioning_facts::request_id.eq(request_id),
        (
            request_provisioning_facts::modalities.eq(&modalities),
            request_provisioning_facts::service_provider_id.eq(&provider),
            request_provisioning_facts::recorded_at.eq(now),
        ),
    )
    .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(request_provisioning_facts::table)
            .values((
                request_provisioning_facts::request_id.eq(request_id),
                request_provisioning_facts::modalities.eq(&modalities),
                request_provisioning_facts::service_provider_id.eq(&provider),
                request_provisioning_facts::recorded_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Whether a request asks for the formulaire QF, and its éditeur's DataPass id. A request
/// without recorded facts (typed in by staff, or received before they were recorded) is for
/// the formulaire QF: it is what this back office instructs.
pub fn request_wants_form(
    conn: &mut DbConnection,
    request_id: &str,
) -> QueryResult<(bool, Option<String>)> {
    let facts: Option<(String, Option<String>)> = request_provisioning_facts::table
        .find(request_id)
        .select((
            request_provisioning_facts::modalities,
            request_provisioning_facts::service_provider_id,
        ))
        .first(conn)
        .optional()?;
    Ok(match facts {
        None => (true, None),
        Some((modalities, provider)) => (
            modalities.is_empty() || modalities.split(',').any(|m| m == FORMULAIRE_QF),
            provider,
        ),
    })
}

/// Called in the transaction of every approval: for a `formulaire_qf` request, creates the
/// HubEE subscription `Inactif` (queued for HubEE) and queues the form activation.
pub fn on_request_approved(
    conn: &mut DbConnection,
    request: &crate::models::requests::HabilitationRequest,
    at: NaiveDateTime,
) -> QueryResult<()> {
    let (wants_form, editor) = request_wants_form(conn, &request.id)?;
    if !wants_form {
        return Ok(());
    }
    crate::instruction::ensure_subscription(conn, request, at)?;
    request_form_activation(conn, &request.collectivite_id, editor, at)?;
    Ok(())
}

/// Queues the activation of a collectivité in the form, unless it is already done.
pub fn request_form_activation(
    conn: &mut DbConnection,
    collectivite_id: &str,
    editor: Option<String>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let existing: Option<String> = form_activations::table
        .find(collectivite_id)
        .select(form_activations::state)
        .first(conn)
        .optional()?;
    match existing.as_deref() {
        Some(DONE) => Ok(false),
        Some(_) => {
            crate::db::cached::update(
                form_activations::table,
                form_activations::collectivite_id.eq(collectivite_id),
                (
                    form_activations::state.eq(PENDING),
                    form_activations::attempts.eq(0),
                    form_activations::next_attempt_at.eq(now),
                    form_activations::locked_until.eq(None::<NaiveDateTime>),
                    form_activations::editor.eq(&editor),
                    form_activations::requested_at.eq(now),
                    form_activations::updated_at.eq(now),
                ),
            )
            .execute(conn)?;
            Ok(true)
        }
        None => {
            diesel::insert_into(form_activations::table)
                .values((
                    form_activations::collectivite_id.eq(collectivite_id),
                    form_activations::state.eq(PENDING),
                    form_activations::editor.eq(&editor),
                    form_activations::attempts.eq(0),
                    form_activations::next_attempt_at.eq(now),
                    form_activations::requested_at.eq(now),
                    form_activations::updated_at.eq(now),
                ))
                .execute(conn)?;
            events::record(
                conn,
                now,
                "system",
                "form.activation_requested",
                ("collectivite", collectivite_id),
                Some("activation dans le formulaire QF demandée".into()),
            )?;
            Ok(true)
        }
    }
}

/// Staff action: provision the collectivité again from its latest approved request (HubEE
/// subscription created if missing, failed HubEE provisioning and form activation retried).
/// Returns false when the collectivité has no approved request.
pub fn request_by_staff(
    conn: &mut DbConnection,
    collectivite_id: &str,
    actor: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let request: Option<crate::models::requests::HabilitationRequest> =
        habilitation_requests::table
            .filter(habilitation_requests::collectivite_id.eq(collectivite_id))
            .filter(
                habilitation_requests::state
                    .eq(crate::domain::request_state::RequestState::Validated),
            )
            .order(habilitation_requests::last_validated_at.desc())
            .select(crate::models::requests::HabilitationRequest::as_select())
            .first(conn)
            .optional()?;
    let Some(request) = request else {
        return Ok(false);
    };
    let (_, editor) = request_wants_form(conn, &request.id)?;
    crate::instruction::ensure_subscription(conn, &request, now)?;
    let subscription: Option<(String, Option<String>)> = hubee_subscriptions::table
        .filter(hubee_subscriptions::collectivite_id.eq(collectivite_id))
        .filter(hubee_subscriptions::process_code.eq(PROCESS_CODE))
        .select((hubee_subscriptions::id, hubee_subscriptions::hubee_id))
        .first(conn)
        .optional()?;
    if let Some((id, None)) = subscription {
        crate::hubee::request_provisioning(conn, &id, now)?;
    }
    request_form_activation(conn, collectivite_id, editor, now)?;
    events::record(
        conn,
        now,
        actor,
        "form.provision_by_staff",
        ("collectivite", collectivite_id),
        Some("provisionnement HubEE et formulaire QF relancé".into()),
    )?;
    Ok(true)
}

/// A form activation row, for pages.
#[derive(Clone, Debug, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = form_activations)]
pub struct FormActivation {
    pub collectivite_id: String,
    pub state: String,
    pub editor: Option<String>,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_error: Option<String>,
    pub requested_at: NaiveDateTime,
    pub activated_at: Option<NaiveDateTime>,
    pub live: Option<bool>,
    pub live_checked_at: Option<NaiveDateTime>,
}

/// Whether a collectivité's form is live, as pages show it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FormState {
    /// `online`, `pending`, `refused`, `offline` (activated but not served) or `not_requested`.
    pub code: &'static str,
    /// The French label.
    pub label: &'static str,
    /// DSFR badge class suffix (`success`, `info`, `error`, `warning`, `new`).
    pub badge: &'static str,
    /// Date of the last online check, as `dd/mm/yyyy à HH:MM` (UTC).
    pub checked_at: Option<String>,
    /// Why it was refused, or the last error of a pending activation.
    pub reason: Option<String>,
    /// Whether the form API key is configured (otherwise activation waits for it).
    pub api_configured: bool,
}

impl FormState {
    /// Whether a poster may be printed without warning.
    pub fn is_online(&self) -> bool {
        self.code == "online"
    }
}

/// The form state of a collectivité.
pub fn form_state(
    conn: &mut DbConnection,
    collectivite_id: &str,
    api_configured: bool,
) -> QueryResult<FormState> {
    let row: Option<FormActivation> = form_activations::table
        .find(collectivite_id)
        .select(FormActivation::as_select())
        .first(conn)
        .optional()?;
    Ok(state_of(row.as_ref(), api_configured))
}

/// The form state of each collectivité given, by id (every id present).
pub fn form_states(
    conn: &mut DbConnection,
    collectivite_ids: &[String],
    api_configured: bool,
) -> QueryResult<HashMap<String, FormState>> {
    let rows: Vec<FormActivation> = form_activations::table
        .filter(form_activations::collectivite_id.eq_any(collectivite_ids))
        .select(FormActivation::as_select())
        .load(conn)?;
    Ok(collectivite_ids
        .iter()
        .map(|id| {
            let row = rows.iter().find(|r| &r.collectivite_id == id);
            (id.clone(), state_of(row, api_configured))
        })
        .collect())
}

/// The form state of an activation row (None: never requested).
pub fn state_of(row: Option<&FormActivation>, api_configured: bool) -> FormState {
    let checked_at = row
        .and_then(|r| r.live_checked_at)
        .map(|d| d.format("%d/%m/%Y à %H:%M").to_string());
    let (code, label, badge, reason) = match row {
        None => ("not_requested", "Non demandée", "new", None),
        Some(r) if r.state == DONE && r.live == Some(true) => {
            ("online", "En ligne", "success", None)
        }
        Some(r) if r.state == DONE && r.live == Some(false) => (
            "offline",
            "Activée mais pas encore en ligne",
            "warning",
            Some("Le formulaire ne sert pas encore cette collectivité.".to_owned()),
        ),
        Some(r) if r.state == DONE => ("pending", "Activation en cours", "info", None),
        Some(r) if r.state == FAILED => ("refused", "Refusée", "error", r.last_error.clone()),
        Some(r) => (
            "pending",
            "Activation en cours",
            "info",
            r.last_error.clone(),
        ),
    };
    FormState {
        code,
        label,
        badge,
        checked_at,
        reason,
        api_configured,
    }
}

/// Holds the approval e-mail of `request_id` until HubEE says whether the collectivité had an
/// account, when that is still unknown and HubEE is configured. Returns whether it was held.
pub fn hold_approval_mail(
    conn: &mut DbConnection,
    hubee_configured: bool,
    request_id: &str,
    token_id: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    if !hubee_configured {
        return Ok(false);
    }
    let collectivite_id: String = habilitation_requests::table
        .find(request_id)
        .select(habilitation_requests::collectivite_id)
        .first(conn)?;
    if !organization_unknown(conn, &collectivite_id)? {
        return Ok(false);
    }
    diesel::delete(pending_approval_mails::table.find(request_id)).execute(conn)?;
    diesel::insert_into(pending_approval_mails::table)
        .values((
            pending_approval_mails::request_id.eq(request_id),
            pending_approval_mails::collectivite_id.eq(&collectivite_id),
            pending_approval_mails::token_id.eq(token_id),
            pending_approval_mails::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Whether the approval e-mail of a request is held until HubEE answers.
pub fn approval_mail_held(conn: &mut DbConnection, request_id: &str) -> QueryResult<bool> {
    let held: i64 = pending_approval_mails::table
        .filter(pending_approval_mails::request_id.eq(request_id))
        .count()
        .get_result(conn)?;
    Ok(held > 0)
}

/// Whether the collectivité's subscription waits for HubEE's organization step.
fn organization_unknown(conn: &mut DbConnection, collectivite_id: &str) -> QueryResult<bool> {
    let row: Option<(Option<String>, Option<String>, Option<String>)> = hubee_subscriptions::table
        .left_join(hubee_provisioning::table)
        .filter(hubee_subscriptions::collectivite_id.eq(collectivite_id))
        .filter(hubee_subscriptions::process_code.eq(PROCESS_CODE))
        .select((
            hubee_subscriptions::hubee_id,
            hubee_provisioning::organization.nullable(),
            hubee_provisioning::state.nullable(),
        ))
        .first(conn)
        .optional()?;
    Ok(matches!(row, Some((None, None, Some(state))) if state == crate::hubee::PENDING))
}

/// Sends the approval e-mails held for this collectivité (in the caller's transaction), now
/// that HubEE's answer is known (or provisioning gave up). Returns how many were queued.
pub fn release_approval_mails(
    conn: &mut DbConnection,
    state: &crate::state::AppState,
    collectivite_id: &str,
    now: NaiveDateTime,
) -> Result<usize, crate::error::AppError> {
    let held: Vec<(String, Option<String>)> = pending_approval_mails::table
        .filter(pending_approval_mails::collectivite_id.eq(collectivite_id))
        .select((
            pending_approval_mails::request_id,
            pending_approval_mails::token_id,
        ))
        .load(conn)?;
    let mut queued = 0;
    for (request_id, token_id) in held {
        diesel::delete(pending_approval_mails::table.find(&request_id)).execute(conn)?;
        let facts = crate::instruction::mail_facts(conn, &request_id, token_id.as_deref())?;
        if crate::instruction::queue_decision_email(
            conn,
            state,
            crate::domain::request_state::RequestEvent::Approve,
            &facts,
            None,
            now,
        )? {
            queued += 1;
        }
    }
    Ok(queued)
}

type Claimed = (String, NewCollectivite, i32);

/// Requests one activation makes: the activation, then the public lookup.
const ACTIVATION_CALLS: u32 = 2;

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
        form_activations::state.eq(PENDING).and(
            form_activations::next_attempt_at.le(now).and(
                form_activations::locked_until
                    .is_null()
                    .or(form_activations::locked_until.lt(now)),
            ),
        )
    };
    let ids: Vec<String> = form_activations::table
        .filter(due())
        .order(form_activations::next_attempt_at.asc())
        .limit(20)
        .select(form_activations::collectivite_id)
        .load(conn)?;
    let locked_until = now + crate::jobs::lease(timeout, ACTIVATION_CALLS, ids.len());
    let mut claimed = Vec::new();
    for id in ids {
        let won = diesel::update(
            form_activations::table
                .filter(form_activations::collectivite_id.eq(&id))
                .filter(due()),
        )
        .set(form_activations::locked_until.eq(Some(locked_until)))
        .execute(conn)?;
        if won != 1 {
            continue;
        }
        let (siret, name, cog, editor, attempts): (
            String,
            String,
            Option<String>,
            Option<String>,
            i32,
        ) = form_activations::table
            .inner_join(collectivites::table)
            .filter(form_activations::collectivite_id.eq(&id))
            .select((
                collectivites::siret,
                collectivites::name,
                collectivites::cog,
                form_activations::editor,
                form_activations::attempts,
            ))
            .first(conn)?;
        let cog = cog.unwrap_or_default();
        let departement = if cog.is_empty() {
            String::new()
        } else {
            crate::models::collectivites::departement_from_cog(&cog)
        };
        claimed.push((
            id,
            NewCollectivite {
                siret,
                code_cog: cog,
                departement,
                name,
                status: "active".to_owned(),
                editor,
            },
            attempts,
        ));
    }
    Ok(claimed)
}

/// Sends every due activation to the form once; returns how many succeeded.
pub async fn activate_due(
    pool: &Pool,
    client: &FormClient,
    retry_delay: std::time::Duration,
) -> anyhow::Result<usize> {
    if !client.can_activate() {
        return Ok(0);
    }
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
        for (id, body, attempts) in batch {
            let outcome = if body.code_cog.is_empty() {
                Err(FormError::Incomplete(
                    "la collectivité n'a pas de code commune (COG) : renseignez-le puis relancez l'activation.".to_owned(),
                ))
            } else {
                client.activate(&body).await
            };
            let live = match &outcome {
                Ok(_) => client.live(&body.code_cog).await.ok().map(|l| l.is_some()),
                Err(_) => None,
            };
            if outcome.is_ok() {
                done += 1;
            }
            let record_pool = pool.clone();
            tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                let mut conn = record_pool.get()?;
                let now = crate::db::now();
                crate::db::transaction(&mut conn, |conn| {
                    record_outcome(conn, &id, outcome, live, attempts, retry_delay, now)
                })?;
                Ok(())
            })
            .await??;
        }
    }
}

fn record_outcome(
    conn: &mut DbConnection,
    id: &str,
    outcome: Result<Activated, FormError>,
    live: Option<bool>,
    attempts: i32,
    retry_delay: std::time::Duration,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let attempts = attempts + 1;
    match outcome {
        Ok(activated) => {
            diesel::update(form_activations::table.find(id))
                .set((
                    form_activations::state.eq(DONE),
                    form_activations::attempts.eq(attempts),
                    form_activations::locked_until.eq(None::<NaiveDateTime>),
                    form_activations::last_error.eq(None::<String>),
                    form_activations::activated_at.eq(Some(now)),
                    form_activations::updated_at.eq(now),
                ))
                .execute(conn)?;
            if let Some(live) = live {
                record_live(conn, id, live, now)?;
            }
            events::record(
                conn,
                now,
                "system",
                "form.activated",
                ("collectivite", id),
                Some(match activated {
                    Activated::Created => "collectivité activée dans le formulaire QF".into(),
                    Activated::AlreadyThere => {
                        "collectivité déjà présente dans le formulaire QF".into()
                    }
                }),
            )?;
        }
        Err(error) => {
            let give_up = !error.is_retryable() || attempts >= MAX_ATTEMPTS;
            let message: String = error.to_string().chars().take(500).collect();
            diesel::update(form_activations::table.find(id))
                .set((
                    form_activations::state.eq(if give_up { FAILED } else { PENDING }),
                    form_activations::attempts.eq(attempts),
                    form_activations::next_attempt_at
                        .eq(now + crate::mail::outbox::backoff(retry_delay, attempts)),
                    form_activations::locked_until.eq(None::<NaiveDateTime>),
                    form_activations::last_error.eq(Some(&message)),
                    form_activations::updated_at.eq(now),
                ))
                .execute(conn)?;
            tracing::warn!(collectivite = %id, attempts, error = %message, "activation dans le formulaire QF en échec");
            if give_up {
                events::record(
                    conn,
                    now,
                    "system",
                    "form.activation_failed",
                    ("collectivite", id),
                    Some(message),
                )?;
            }
        }
    }
    Ok(())
}

fn record_live(
    conn: &mut DbConnection,
    id: &str,
    live: bool,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(form_activations::table.find(id))
        .set((
            form_activations::live.eq(Some(live)),
            form_activations::live_checked_at.eq(Some(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Checks, through the form's public API, whether each activated collectivité (or only
/// `only`) is served; returns how many are online.
pub async fn check_live(
    pool: &Pool,
    client: &FormClient,
    only: Option<String>,
) -> anyhow::Result<usize> {
    let read_pool = pool.clone();
    let rows: Vec<(String, Option<String>)> =
        tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let mut conn = read_pool.get()?;
            let mut query = form_activations::table
                .inner_join(collectivites::table)
                .filter(form_activations::state.eq(DONE))
                .select((form_activations::collectivite_id, collectivites::cog))
                .into_boxed();
            if let Some(id) = only {
                query = query.filter(form_activations::collectivite_id.eq(id));
            }
            Ok(query.load(&mut conn)?)
        })
        .await??;
    let mut online = 0;
    for (id, cog) in rows {
        let Some(cog) = cog else { continue };
        let live = match client.live(&cog).await {
            Ok(found) => found.is_some(),
            Err(error) => {
                tracing::warn!(collectivite = %id, error = %error, "vérification du formulaire QF");
                continue;
            }
        };
        if live {
            online += 1;
        }
        let write_pool = pool.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let mut conn = write_pool.get()?;
            record_live(&mut conn, &id, live, crate::db::now())?;
            Ok(())
        })
        .await??;
    }
    Ok(online)
}

/// Runs the form activations (every few seconds, or when woken) and the online checks (every
/// `FORM_CHECK_INTERVAL`) until the process stops.
pub fn spawn_jobs(state: actix_web::web::Data<crate::state::AppState>) {
    let settings = state.settings.form_api.clone();
    if state.form.can_activate() {
        let activation_state = state.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = activate_due(
                    &activation_state.pool,
                    &activation_state.form,
                    settings.retry_delay,
                )
                .await
                {
                    tracing::warn!(error = %format!("{e:#}"), "activation dans le formulaire QF");
                }
                tokio::select! {
                    () = tokio::time::sleep(std::time::Duration::from_secs(5).min(settings.retry_delay)) => {}
                    () = activation_state.form_wakeup.notified() => {}
                }
            }
        });
    }
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(settings.check_interval).await;
            if let Err(e) = check_live(&state.pool, &state.form, None).await {
                tracing::warn!(error = %format!("{e:#}"), "vérification du formulaire QF");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_modalities_and_the_service_provider() {
        let data: HashMap<String, Value> = HashMap::from([(
            "modalities".to_owned(),
            json!(["formulaire_qf", " Params "]),
        )]);
        assert_eq!(modalities_of(&data), vec!["formulaire_qf", "params"]);
        let data: HashMap<String, Value> =
            HashMap::from([("modalities".to_owned(), json!("params, formulaire_qf"))]);
        assert_eq!(modalities_of(&data), vec!["params", "formulaire_qf"]);
        assert!(modalities_of(&HashMap::new()).is_empty());
        assert_eq!(
            service_provider_id(Some(&json!({"id": "mushroom", "siret": "1"}))),
            Some("mushroom".to_owned())
        );
        assert_eq!(
            service_provider_id(Some(&json!({"id": 42}))),
            Some("42".to_owned())
        );
        assert_eq!(service_provider_id(Some(&Value::Null)), None);
        assert_eq!(service_provider_id(None), None);
    }

    #[test]
    fn labels_each_form_state() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 29)
            .and_then(|d| d.and_hms_opt(10, 5, 0))
            .unwrap_or_default();
        let row = |state: &str, live: Option<bool>, error: Option<&str>| FormActivation {
            collectivite_id: "c".into(),
            state: state.into(),
            editor: None,
            attempts: 1,
            next_attempt_at: at,
            last_error: error.map(str::to_owned),
            requested_at: at,
            activated_at: None,
            live,
            live_checked_at: live.map(|_| at),
        };
        assert_eq!(state_of(None, true).code, "not_requested");
        let online = state_of(Some(&row(DONE, Some(true), None)), true);
        assert!(online.is_online());
        assert_eq!(online.checked_at.as_deref(), Some("29/11/2026 à 10:05"));
        assert_eq!(
            state_of(Some(&row(PENDING, None, None)), true).label,
            "Activation en cours"
        );
        let refused = state_of(Some(&row(FAILED, None, Some("SIRET invalide"))), true);
        assert_eq!(refused.label, "Refusée");
        assert_eq!(refused.reason.as_deref(), Some("SIRET invalide"));
        assert_eq!(
            state_of(Some(&row(DONE, Some(false), None)), true).code,
            "offline"
        );
    }
}
