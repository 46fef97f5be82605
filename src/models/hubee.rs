//! HubEE subscriptions to the `FormulaireQF` procedure, one per collectivité.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::hubee_subscriptions;
use crate::domain::hubee::SubscriptionStatus;

/// The HubEE procedure code of the national QF form.
pub const PROCESS_CODE: &str = "FormulaireQF";

/// A HubEE subscription as recorded by the back office.
#[derive(Clone, Debug, Queryable, Selectable, Insertable, Identifiable, serde::Serialize)]
#[diesel(table_name = hubee_subscriptions, treat_none_as_default_value = false)]
pub struct HubeeSubscription {
    pub id: String,
    pub collectivite_id: String,
    pub process_code: String,
    /// The subscription's id in HubEE, once known.
    pub hubee_id: Option<String>,
    pub status: SubscriptionStatus,
    /// `PORTAIL` or `API`.
    pub access_mode: String,
    /// `Biquotidienne`, `Quotidienne`, `Unitaire` or `Aucune`.
    pub notification_frequency: String,
    pub notification_email: Option<String>,
    pub datapass_id: Option<i64>,
    pub activation_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub local_admin_email: Option<String>,
    /// SIRET of the éditeur the subscription is delegated to (type `EDT`).
    pub delegation_editeur_siret: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Number of subscriptions in each status, every status listed.
pub fn count_by_status(conn: &mut DbConnection) -> QueryResult<Vec<(SubscriptionStatus, i64)>> {
    // Kept by triggers: no scan of the subscriptions (see `models::counters`).
    let rows = super::counters::buckets(conn, super::counters::HUBEE)?;
    Ok(SubscriptionStatus::ALL
        .iter()
        .map(|status| {
            let n = rows
                .iter()
                .find(|(code, _)| code == status.as_str())
                .map_or(0, |(_, n)| *n);
            (*status, n)
        })
        .collect())
}
