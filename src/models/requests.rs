//! Habilitation requests (DataPass « demandes »), their contacts and the habilitations they yield.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{habilitation_requests, habilitations, request_contacts};
use crate::domain::request_state::RequestState;

/// A habilitation request as DataPass numbers it (`D<datapass_id>`).
#[derive(Clone, Debug, Queryable, Selectable, Insertable, Identifiable, serde::Serialize)]
#[diesel(table_name = habilitation_requests, treat_none_as_default_value = false)]
pub struct HabilitationRequest {
    pub id: String,
    pub datapass_id: Option<i64>,
    pub collectivite_id: String,
    pub form_uid: String,
    pub editeur_id: Option<String>,
    pub state: RequestState,
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

pub use crate::domain::roles::contact as roles;

/// One contact of a request (e-mail stored lower-cased and trimmed).
#[derive(Clone, Debug, Queryable, Selectable, Insertable, Identifiable, serde::Serialize)]
#[diesel(table_name = request_contacts, treat_none_as_default_value = false)]
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
#[diesel(table_name = habilitations, treat_none_as_default_value = false)]
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
    // Kept by triggers: no scan of the requests (see `models::counters`).
    let rows = super::counters::buckets(conn, super::counters::REQUESTS)?;
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

/// Number of requests (all states), from the counters kept by triggers.
pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
    Ok(super::counters::buckets(conn, super::counters::REQUESTS)?
        .iter()
        .map(|(_, n)| n)
        .sum())
}

/// Which requests a list covers.
#[derive(Clone, Debug)]
pub enum Scope {
    /// Every request (staff).
    All,
    /// The clients of these éditeurs.
    Editeurs(Vec<String>),
    /// The requests this address is a contact on.
    Contact(String),
}

/// A line of a request list: the request with its collectivité, éditeur, token and HubEE.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RequestSummary {
    pub id: String,
    pub datapass_id: Option<i64>,
    pub state: RequestState,
    pub state_label: &'static str,
    pub reopening: bool,
    pub collectivite_id: String,
    pub collectivite_name: String,
    pub siret: String,
    pub editeur_name: Option<String>,
    pub token_expires_on: Option<chrono::NaiveDate>,
    pub token_status: Option<&'static str>,
    pub token_status_label: Option<&'static str>,
    pub token_days_left: Option<i64>,
    pub token_id: Option<String>,
    /// « expire dans 25 jours », « a expiré hier »…
    pub token_phrase: Option<String>,
    /// Whether the list's contact may prolong this token now (demandeur, window open).
    pub can_prolong: bool,
    pub hubee_status: Option<&'static str>,
    pub hubee_access_mode: Option<String>,
    /// The roles of the list's contact on the request (contact scope only).
    pub my_roles: Vec<&'static str>,
}

/// Requests in `scope`, paginated: an éditeur's clients newest request first, others by
/// collectivité name.
pub fn summaries(
    conn: &mut DbConnection,
    scope: &Scope,
    today: chrono::NaiveDate,
    page: i64,
    per_page: i64,
) -> QueryResult<crate::db::Page<RequestSummary>> {
    use crate::db::schema::{collectivites, editeurs, hubee_subscriptions, tokens};

    // The scope's filter, on any boxed query that reads `habilitation_requests`. One éditeur
    // is an equality, so that its index `(editeur_id, created_at, id)` gives the order.
    macro_rules! scoped {
        ($q:expr) => {{
            let mut q = $q;
            match scope {
                Scope::All => {}
                Scope::Editeurs(ids) if ids.len() == 1 => {
                    q = q.filter(habilitation_requests::editeur_id.eq(ids[0].clone()));
                }
                Scope::Editeurs(ids) => {
                    q = q.filter(habilitation_requests::editeur_id.eq_any(ids.clone()));
                }
                Scope::Contact(email) => {
                    q = q.filter(
                        habilitation_requests::id.eq_any(
                            request_contacts::table
                                .filter(request_contacts::email.eq(email.clone()))
                                .select(request_contacts::request_id),
                        ),
                    );
                }
            }
            q
        }};
    }
    // Counted on the requests alone: every request has its collectivité and the éditeur is a
    // left join, so the joins would not change the count.
    let total: i64 = scoped!(habilitation_requests::table.into_boxed())
        .count()
        .get_result(conn)?;
    let page = crate::db::clamp_page(page, total, per_page);
    let mut listed = scoped!(
        habilitation_requests::table
            .inner_join(collectivites::table)
            .left_join(editeurs::table)
            .into_boxed()
    );
    listed = match scope {
        // An éditeur's clients: newest request first, read in index order (a page reads
        // `per_page` index entries instead of sorting every client by name).
        Scope::Editeurs(_) => listed.order((
            habilitation_requests::created_at.desc(),
            habilitation_requests::id.desc(),
        )),
        _ => listed.order((
            collectivites::name.asc(),
            habilitation_requests::created_at.desc(),
        )),
    };
    let rows: Vec<(HabilitationRequest, String, String, Option<String>)> = listed
        .limit(per_page)
        .offset(crate::db::offset(page, per_page))
        .select((
            HabilitationRequest::as_select(),
            collectivites::name,
            collectivites::siret,
            editeurs::name.nullable(),
        ))
        .load(conn)?;

    let collectivite_ids: Vec<String> = rows.iter().map(|r| r.0.collectivite_id.clone()).collect();
    let token_rows: Vec<(String, chrono::NaiveDate, Option<NaiveDateTime>, String)> = tokens::table
        .filter(tokens::collectivite_id.eq_any(&collectivite_ids))
        .order(tokens::issued_at.desc())
        .select((
            tokens::collectivite_id,
            tokens::expires_on,
            tokens::revoked_at,
            tokens::id,
        ))
        .load(conn)?;
    let hubee_rows: Vec<(String, String, String)> = hubee_subscriptions::table
        .filter(hubee_subscriptions::collectivite_id.eq_any(&collectivite_ids))
        .select((
            hubee_subscriptions::collectivite_id,
            hubee_subscriptions::status,
            hubee_subscriptions::access_mode,
        ))
        .load(conn)?;
    let request_ids: Vec<String> = rows.iter().map(|r| r.0.id.clone()).collect();
    let my_roles: Vec<(String, String)> = match scope {
        Scope::Contact(email) => request_contacts::table
            .filter(request_contacts::request_id.eq_any(&request_ids))
            .filter(request_contacts::email.eq(email.clone()))
            .select((request_contacts::request_id, request_contacts::role))
            .load(conn)?,
        _ => Vec::new(),
    };

    let items = rows
        .into_iter()
        .map(|(request, collectivite_name, siret, editeur_name)| {
            let token = token_rows
                .iter()
                .find(|(cid, _, _, _)| *cid == request.collectivite_id);
            let hubee = hubee_rows
                .iter()
                .find(|(cid, _, _)| *cid == request.collectivite_id);
            let state = request.state;
            let token_status = token.map(|(_, expires_on, revoked_at, _)| {
                crate::domain::token::token_status(*expires_on, revoked_at.is_some(), today)
            });
            let hubee_status = hubee.and_then(|(_, status, _)| {
                status
                    .parse::<crate::domain::hubee::SubscriptionStatus>()
                    .ok()
            });
            let is_demandeur = my_roles
                .iter()
                .any(|(rid, role)| *rid == request.id && role == roles::DEMANDEUR);
            let can_prolong = is_demandeur
                && request.state == RequestState::Validated
                && !request.reopening
                && token.is_some_and(|(_, expires_on, revoked_at, _)| {
                    crate::domain::token::prolongation_open(
                        *expires_on,
                        revoked_at.is_some(),
                        today,
                    )
                });
            RequestSummary {
                token_id: token.map(|t| t.3.clone()),
                token_phrase: token.map(|t| {
                    crate::domain::token::expiry_phrase_fr(crate::domain::token::days_left(
                        t.1, today,
                    ))
                }),
                can_prolong,
                my_roles: my_roles
                    .iter()
                    .filter(|(rid, _)| *rid == request.id)
                    .map(|(_, role)| roles::label_fr(role))
                    .collect(),
                id: request.id,
                datapass_id: request.datapass_id,
                state_label: state.label_fr(),
                state: request.state,
                reopening: request.reopening,
                collectivite_id: request.collectivite_id,
                collectivite_name,
                siret,
                editeur_name,
                token_expires_on: token.map(|t| t.1),
                token_status: token_status.map(|s| s.as_str()),
                token_status_label: token_status.map(|s| s.label_fr()),
                token_days_left: token.map(|t| crate::domain::token::days_left(t.1, today)),
                hubee_status: hubee_status.map(|s| s.label_fr()),
                hubee_access_mode: hubee.map(|h| h.2.clone()),
            }
        })
        .collect();
    Ok(crate::db::Page::new(items, page, per_page, total))
}

/// One request by id.
pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<HabilitationRequest>> {
    habilitation_requests::table
        .find(id)
        .select(HabilitationRequest::as_select())
        .first(conn)
        .optional()
}

/// The contacts of a request, in role order.
pub fn contacts(conn: &mut DbConnection, request_id: &str) -> QueryResult<Vec<RequestContact>> {
    let mut contacts: Vec<RequestContact> = request_contacts::table
        .filter(request_contacts::request_id.eq(request_id))
        .select(RequestContact::as_select())
        .load(conn)?;
    contacts.sort_by_key(|c| roles::ALL.iter().position(|r| *r == c.role).unwrap_or(99));
    Ok(contacts)
}
