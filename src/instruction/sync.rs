//! Reconciliation with DataPass: every demande of the API Particulier definitions read
//! through the pull API, then each recorded through the same mirror as the webhook (created
//! when missing, state, habilitations and contacts aligned, token issued or prolonged). Every
//! page is read before anything is written, so a DataPass that fails half-way leaves the
//! database as it was; each demande is then its own transaction, so webhooks are never held
//! up for long. A second run over the same answers changes nothing.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::Value;

use super::TokenAction;
use super::datapass::RequestData;
use super::mirror::{MirrorError, Source, approval_is_fresh, mirror};
use crate::clients::datapass::{DataPassClient, DataPassError};
use crate::db::schema::{datapass_mirror, datapass_sync_runs};
use crate::db::{new_id, now};
use crate::domain::request_state::RequestEvent;
use crate::state::AppState;

/// Demandes recorded per blocking call (each in its own transaction).
const CHUNK: usize = 200;

/// What a reconciliation did.
#[derive(Clone, Debug, Default)]
pub struct SyncReport {
    /// Demandes read from DataPass (each counted once).
    pub read: usize,
    /// Of another DataPass definition: left alone.
    pub skipped: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Differences between DataPass and the back office found and resolved.
    pub differences: usize,
    /// Tokens issued or prolonged.
    pub tokens: usize,
    /// Demandes that could not be recorded, with why.
    pub failed: Vec<String>,
}

impl SyncReport {
    /// One line for people.
    pub fn summary_fr(&self) -> String {
        format!(
            "DataPass : {} demande(s) lue(s), {} créée(s), {} mise(s) à jour, {} inchangée(s), {} écart(s), {} jeton(s) émis ou prolongé(s), {} ignorée(s) (autre démarche), {} en échec.",
            self.read,
            self.created,
            self.updated,
            self.unchanged,
            self.differences,
            self.tokens,
            self.skipped,
            self.failed.len()
        )
    }
}

/// Why a reconciliation stopped before writing anything.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0}")]
    DataPass(#[from] DataPassError),
    #[error("base de données : {0}")]
    Database(String),
}

/// Whether a DataPass definition is one of API Particulier's (the QF form's included).
pub fn is_api_particulier_definition(definition: &str) -> bool {
    let d = definition.trim().to_ascii_lowercase().replace('-', "_");
    d.starts_with("api_particulier") || d.contains("formulaire_qf")
}

fn demande_id(value: &Value) -> Option<i64> {
    match value.get("id")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().trim_start_matches('D').parse().ok(),
        _ => None,
    }
}

/// Reads every demande, then records each; records the run for staff.
pub async fn run(
    state: &actix_web::web::Data<AppState>,
    client: &DataPassClient,
) -> Result<SyncReport, SyncError> {
    let started = now();
    let page_size = state
        .settings
        .datapass_api
        .as_ref()
        .map_or(500, |s| s.page_size);
    let raw = match client.all_demandes(page_size).await {
        Ok(raw) => raw,
        Err(e) => {
            record_run(state, started, &SyncReport::default(), Some(e.to_string())).await;
            return Err(e.into());
        }
    };

    let mut report = SyncReport::default();
    let mut seen = HashSet::new();
    let mut items: Vec<(i64, RequestData)> = Vec::new();
    for value in raw {
        let Some(id) = demande_id(&value) else {
            report
                .failed
                .push("une demande sans numéro (id) a été ignorée".into());
            continue;
        };
        // Pages shift when a demande is created meanwhile: each is recorded once.
        if !seen.insert(id) {
            continue;
        }
        if let Some(definition) = value.get("definition_id").and_then(Value::as_str)
            && !is_api_particulier_definition(definition)
        {
            report.skipped += 1;
            continue;
        }
        match serde_json::from_value::<RequestData>(value) {
            Ok(data) => items.push((id, data)),
            Err(e) => report.failed.push(format!("D{id} illisible : {e}")),
        }
    }
    report.read = seen.len();

    let mut pending = items.into_iter();
    loop {
        let chunk: Vec<(i64, RequestData)> = pending.by_ref().take(CHUNK).collect();
        if chunk.is_empty() {
            break;
        }
        let worker = state.clone();
        let first = chunk.first().map(|(id, _)| *id);
        let outcome = state
            .db(move |conn| Ok(record_chunk(conn, &worker, chunk, started)))
            .await;
        // A failing chunk does not stop the others; it is reported and seen again next run.
        let partial = match outcome {
            Ok(Ok(partial)) => partial,
            Ok(Err(e)) => {
                report.failed.push(format!(
                    "lot à partir de D{} : {e}",
                    first.unwrap_or_default()
                ));
                continue;
            }
            Err(e) => {
                report.failed.push(format!(
                    "lot à partir de D{} : {e}",
                    first.unwrap_or_default()
                ));
                continue;
            }
        };
        report.created += partial.created;
        report.updated += partial.updated;
        report.unchanged += partial.unchanged;
        report.differences += partial.differences;
        report.tokens += partial.tokens;
        report.failed.extend(partial.failed);
    }
    state.mailer.notify();
    let error =
        (!report.failed.is_empty()).then(|| format!("{} demande(s) en échec", report.failed.len()));
    record_run(state, started, &report, error).await;
    Ok(report)
}

fn is_unique_violation(e: &MirrorError) -> bool {
    matches!(
        e,
        MirrorError::Database(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _
        ))
    )
}

/// Records a chunk of demandes, one transaction each.
fn record_chunk(
    conn: &mut crate::db::DbConnection,
    state: &AppState,
    chunk: Vec<(i64, RequestData)>,
    read_at: NaiveDateTime,
) -> Result<SyncReport, SyncError> {
    let mut report = SyncReport::default();
    let mut synced = Vec::with_capacity(chunk.len());
    for (id, data) in &chunk {
        let mut attempt = record_one(conn, state, *id, data, read_at);
        // A webhook about the same new request may have created it meanwhile: once more.
        if attempt.as_ref().is_err_and(is_unique_violation) {
            attempt = record_one(conn, state, *id, data, read_at);
        }
        match attempt {
            Ok(mirrored) => {
                if mirrored.created {
                    report.created += 1;
                } else if mirrored.changed {
                    report.updated += 1;
                } else {
                    report.unchanged += 1;
                }
                report.differences += mirrored.differences;
                if mirrored
                    .token
                    .as_ref()
                    .is_some_and(|(_, a)| *a != TokenAction::Kept)
                {
                    report.tokens += 1;
                }
                synced.push(mirrored.request_id);
            }
            Err(MirrorError::Database(e)) => report.failed.push(format!(
                "D{id} : base de données ({})",
                crate::error::cause_chain(&e)
            )),
            Err(other) => report.failed.push(format!("D{id} : {other}")),
        }
    }
    diesel::update(datapass_mirror::table.filter(datapass_mirror::request_id.eq_any(&synced)))
        .set(datapass_mirror::last_synced_at.eq(Some(read_at)))
        .execute(conn)
        .map_err(|e| SyncError::Database(crate::error::cause_chain(&e)))?;
    Ok(report)
}

fn record_one(
    conn: &mut crate::db::DbConnection,
    state: &AppState,
    id: i64,
    data: &RequestData,
    read_at: NaiveDateTime,
) -> Result<super::mirror::Mirrored, MirrorError> {
    crate::db::transaction(conn, |conn| {
        let at = now();
        let mirrored = mirror(conn, id, data, Source::Sync { read_at }, at)?;
        // A recent approval whose webhook was lost still gets its e-mail; old ones do not.
        if let Some((token_id, action)) = &mirrored.token
            && *action != TokenAction::Kept
            && approval_is_fresh(mirrored.validated_at, at)
        {
            let facts = super::mail_facts(conn, &mirrored.request_id, Some(token_id))?;
            if let Err(e) =
                super::queue_decision_email(conn, state, RequestEvent::Approve, &facts, None, at)
            {
                tracing::warn!(error = %e, "synchronisation DataPass : e-mail de validation non préparé");
            }
        }
        Ok(mirrored)
    })
}

async fn record_run(
    state: &AppState,
    started: NaiveDateTime,
    report: &SyncReport,
    error: Option<String>,
) {
    let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    let values = (
        datapass_sync_runs::id.eq(new_id()),
        datapass_sync_runs::started_at.eq(started),
        datapass_sync_runs::finished_at.eq(now()),
        datapass_sync_runs::read_count.eq(count(report.read)),
        datapass_sync_runs::created_count.eq(count(report.created)),
        datapass_sync_runs::updated_count.eq(count(report.updated)),
        datapass_sync_runs::unchanged_count.eq(count(report.unchanged)),
        datapass_sync_runs::difference_count.eq(count(report.differences)),
        datapass_sync_runs::error.eq(error),
    );
    let outcome = state
        .db(move |conn| {
            diesel::insert_into(datapass_sync_runs::table)
                .values(values)
                .execute(conn)?;
            Ok(())
        })
        .await;
    if let Err(e) = outcome {
        tracing::warn!(error = %e, "synchronisation DataPass : exécution non journalisée");
    }
}

/// Runs the reconciliation every `DATAPASS_SYNC_INTERVAL` (the first a minute after start).
pub fn spawn_scheduler(state: actix_web::web::Data<AppState>) {
    let (Some(client), Some(settings)) =
        (state.datapass.clone(), state.settings.datapass_api.clone())
    else {
        return;
    };
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(60).min(settings.sync_interval)).await;
        loop {
            match run(&state, &client).await {
                Ok(report) => tracing::info!("{}", report.summary_fr()),
                Err(e) => tracing::warn!(error = %e, "synchronisation DataPass"),
            }
            tokio::time::sleep(settings.sync_interval).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_particulier_definitions_are_recognised() {
        assert!(is_api_particulier_definition("api_particulier"));
        assert!(is_api_particulier_definition(
            "api-particulier-city-family-mushroom-software"
        ));
        assert!(is_api_particulier_definition("formulaire_qf"));
        assert!(!is_api_particulier_definition("api_entreprise"));
        assert!(!is_api_particulier_definition("hubee_cert_dc"));
    }

    #[test]
    fn demande_ids_are_numbers_or_d_numbers() {
        assert_eq!(demande_id(&serde_json::json!({"id": 12})), Some(12));
        assert_eq!(demande_id(&serde_json::json!({"id": "D34"})), Some(34));
        assert_eq!(demande_id(&serde_json::json!({"id": null})), None);
    }
}
