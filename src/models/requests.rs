//! Habilitation requests (DataPass « demandes »), their contacts and the habilitations they yield.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{habilitation_requests, habilitations, request_contacts};
use crate::domain::request_state::RequestState;

/// A habilitation request as DataPass numbers it (`D<datapass_id>`).
#[derive(Clone, Debug, Queryable, Selectable, Insertable, Identifiable, serde::Serialize)]
#[diesel(table_name = habilitation_requests)]
pub struct HabilitationRequest {
    pub id: String,
    pub datapass_id: Option<i64>,
    pub collectivite_id: String,
    pub form_uid: String,
    pub editeur_id: Option<String>,
    /// A `RequestState` code.
    pub state: String,
    /// True while a validated habilitation is being modified.
    pub reopening: bool,
    pub scopes: String,
    pub purpose: Option<String>,
    pub deliberation_url: Option<String>,
    /// The latest refusal or change-request reason.
    pub last_reason: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_submitted_at: Option<NaiveDateTime>,
    pub last_validated_at: Option<NaiveDateTime>,
    /// The time of the latest event applied, so older events never move the request back.
    pub last_event_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

/// The roles a contact holds on a request.
pub mod roles {
    /// The agent who filed the request; the only one who may prolong the token.
    pub const DEMANDEUR: &str = "demandeur";
    pub const CONTACT_METIER: &str = "contact_metier";
    /// The éditeur's e-mail when a pre-filled form is used.
    pub const CONTACT_TECHNIQUE: &str = "contact_technique";
    /// Délégué à la protection des données.
    pub const DPD: &str = "delegue_protection_donnees";
    /// On older requests, often the mayor.
    pub const RESPONSABLE_TRAITEMENT: &str = "responsable_traitement";
    /// Every role, in display order.
    pub const ALL: [&str; 5] = [
        DEMANDEUR,
        CONTACT_METIER,
        CONTACT_TECHNIQUE,
        DPD,
        RESPONSABLE_TRAITEMENT,
    ];

    /// The French label of a role code.
    pub fn label_fr(role: &str) -> &'static str {
        match role {
            DEMANDEUR => "Demandeur",
            CONTACT_METIER => "Contact métier",
            CONTACT_TECHNIQUE => "Contact technique",
            DPD => "Délégué à la protection des données",
            RESPONSABLE_TRAITEMENT => "Responsable de traitement",
            _ => "Contact",
        }
    }
}

/// One contact of a request (e-mail stored lower-cased and trimmed).
#[derive(Clone, Debug, Queryable, Selectable, Insertable, Identifiable, serde::Serialize)]
#[diesel(table_name = request_contacts)]
pub struct RequestContact {
    pub id: String,
    pub request_id: String,
    pub role: String,
    pub email: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub phone_number: Option<String>,
    pub job_title: Option<String>,
}

/// A validated habilitation (`state`: `active`, `revoked` or `replaced`).
#[derive(Clone, Debug, Queryable, Selectable, Insertable, Identifiable, serde::Serialize)]
#[diesel(table_name = habilitations)]
pub struct Habilitation {
    pub id: String,
    pub request_id: String,
    pub collectivite_id: String,
    pub datapass_authorization_id: Option<i64>,
    pub slug: Option<String>,
    pub state: String,
    pub validated_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// Number of requests in each state, every state listed (zero included), in lifecycle order.
pub fn count_by_state(conn: &mut DbConnection) -> QueryResult<Vec<(RequestState, i64)>> {
    let rows: Vec<(String, i64)> = habilitation_requests::table
        .group_by(habilitation_requests::state)
        .select((habilitation_requests::state, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(RequestState::ALL
        .iter()
        .map(|state| {
            let n = rows
                .iter()
                .find(|(code, _)| code == state.as_str())
                .map_or(0, |(_, n)| *n);
            (*state, n)
        })
        .collect())
}

/// Number of requests (all states).
pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
    habilitation_requests::table.count().get_result(conn)
}
