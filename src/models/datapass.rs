//! What the back office records of its mirror of DataPass, as staff read it: the differences
//! found (by webhooks and reconciliations) and the reconciliation runs.

use diesel::prelude::*;

use crate::db::schema::{datapass_differences, datapass_sync_runs};

/// One difference, as listed.
#[derive(Clone, Debug, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = datapass_differences)]
pub struct DifferenceRow {
    pub id: String,
    pub request_id: Option<String>,
    pub datapass_id: i64,
    pub source: String,
    pub kind: String,
    pub local_value: Option<String>,
    pub datapass_value: Option<String>,
    pub resolution: String,
    pub detected_at: chrono::NaiveDateTime,
}

/// One reconciliation run.
#[derive(Clone, Debug, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = datapass_sync_runs)]
pub struct SyncRun {
    pub id: String,
    pub started_at: chrono::NaiveDateTime,
    pub finished_at: chrono::NaiveDateTime,
    pub read_count: i32,
    pub created_count: i32,
    pub updated_count: i32,
    pub unchanged_count: i32,
    pub difference_count: i32,
    pub error: Option<String>,
}

/// The French label of a difference kind.
pub fn kind_label_fr(kind: &str) -> &'static str {
    match kind {
        "missing" => "Demande inconnue du back-office",
        "transition" => "Événement non prévu par les règles",
        "state" => "État différent",
        _ => "Écart",
    }
}
