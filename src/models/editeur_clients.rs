//! An éditeur's clients, one row per collectivité: its latest request through the éditeur
//! (state, D-number), its current token (expiry, days left), its HubEE subscription and its
//! form URL. Read by the éditeur space and the éditeur API, in SIRET order with a keyset
//! cursor (the last SIRET seen), so that a page never shifts when clients are added.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::editeurs::{client_collectivite_filter, client_collectivite_set, client_row_filter};
use super::hubee::PROCESS_CODE;
use crate::db::DbConnection;
use crate::db::schema::{
    collectivites, form_activations, habilitation_requests, hubee_subscriptions, tokens,
};
use crate::domain::hubee::SubscriptionStatus;
use crate::domain::request_state::RequestState;
use crate::domain::token::{
    EXPIRING_WINDOW_DAYS, TokenStatus, days_left, prolongation_open, token_status,
};
use crate::models::result_cache::{ResultCache, key};

/// Collectivités read from the database at a time while filling a page.
const CHUNK: i64 = 500;

/// One client of an éditeur.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ClientRow {
    pub siret: String,
    pub name: String,
    #[serde(skip)]
    pub collectivite_id: String,
    /// State of the latest request through the éditeur (DataPass name).
    pub request_state: Option<String>,
    pub request_state_label: Option<&'static str>,
    /// DataPass number of that request, as `D<number>`.
    pub datapass_id: Option<String>,
    #[serde(skip)]
    pub request_id: Option<String>,
    /// Expiry of the current (live, latest-expiring) token.
    pub token_expires_on: Option<NaiveDate>,
    /// Days left until that expiry (negative once expired).
    pub token_days_left: Option<i64>,
    /// `active`, `expiring`, `expired` or `revoked`.
    pub token_status: Option<&'static str>,
    /// Whether the demandeur may ask for a prolongation now.
    pub prolongation_open: bool,
    /// HubEE subscription status code (`INACTIF`, `ACTIF`, `SUSPENDU`, `REFUSE`).
    pub hubee_status: Option<String>,
    pub hubee_status_label: Option<&'static str>,
    /// `PORTAIL` or `API`.
    pub hubee_access_mode: Option<String>,
    /// The collectivité's public QF form.
    pub form_url: String,
    /// Whether the form is live (formulaire QF activation): `true` online, `false` requested
    /// but not online yet (or refused), `None` never requested through the back office.
    pub form_live: Option<bool>,
}

/// Quick views of the éditeur space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// The current token expires within 90 days (not yet expired).
    Expiring,
    /// The current token has expired (or every token was revoked).
    Expired,
    /// No HubEE subscription, or one that is not `ACTIF`.
    HubeeNotActive,
    /// The latest request awaits a decision (submitted or changes requested).
    Pending,
}

impl View {
    /// Every view, in display order.
    pub const ALL: [View; 4] = [
        View::Expiring,
        View::Expired,
        View::HubeeNotActive,
        View::Pending,
    ];

    /// Code in the query string.
    pub fn code(self) -> &'static str {
        match self {
            View::Expiring => "expire-90j",
            View::Expired => "expire",
            View::HubeeNotActive => "abonnement-inactif",
            View::Pending => "en-attente",
        }
    }

    /// French label.
    pub fn label_fr(self) -> &'static str {
        match self {
            View::Expiring => "Expirent dans les 90 jours",
            View::Expired => "Expirés",
            View::HubeeNotActive => "Abonnement HubEE non actif",
            View::Pending => "Demandes en attente",
        }
    }

    /// The view with this code.
    pub fn from_code(code: &str) -> Option<View> {
        View::ALL.into_iter().find(|v| v.code() == code)
    }
}

/// What to keep.
#[derive(Clone, Debug, Default)]
pub struct ClientFilter {
    /// Current token expires strictly before this day.
    pub expires_before: Option<NaiveDate>,
    /// Latest request in this state.
    pub request_state: Option<RequestState>,
    /// One of the quick views.
    pub view: Option<View>,
    /// Name or SIRET contains this.
    pub search: String,
}

impl ClientFilter {
    fn keeps(&self, row: &ClientRow) -> bool {
        if let Some(before) = self.expires_before
            && row.token_expires_on.is_none_or(|d| d >= before)
        {
            return false;
        }
        if let Some(state) = self.request_state
            && row.request_state.as_deref() != Some(state.as_str())
        {
            return false;
        }
        match self.view {
            None => true,
            Some(View::Expiring) => row
                .token_days_left
                .is_some_and(|d| (0..=EXPIRING_WINDOW_DAYS).contains(&d)),
            Some(View::Expired) => row.token_status.is_some_and(|s| {
                s == TokenStatus::Expired.as_str() || s == TokenStatus::Revoked.as_str()
            }),
            Some(View::HubeeNotActive) => {
                row.hubee_status.as_deref() != Some(SubscriptionStatus::Actif.as_str())
            }
            Some(View::Pending) => row.request_state.as_deref().is_some_and(|s| {
                s == RequestState::Submitted.as_str()
                    || s == RequestState::ChangesRequested.as_str()
            }),
        }
    }
}

/// One page of clients and the cursor of the next one.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ClientPage {
    pub items: Vec<ClientRow>,
    /// SIRET to pass as `after` for the next page; none on the last page.
    pub next_cursor: Option<String>,
}

/// An éditeur's client collectivités containing a search text: (id, SIRET, name), in SIRET
/// order.
pub type Candidates = Vec<(String, String, String)>;

/// The client collectivités of `editeur_id` whose documents contain `search` (all of them
/// when it is empty), in SIRET order: read once from the set of its client collectivités
/// (covering indexes, about 2.5 µs per client request) and kept until the data changes (see
/// `models::result_cache`).
pub(crate) fn candidates(
    conn: &mut DbConnection,
    editeur_id: &str,
    search: &str,
    cache: &ResultCache<Candidates>,
) -> QueryResult<std::sync::Arc<Candidates>> {
    let cache_key = key("editeur_clients", &[editeur_id, search]);
    cache.get_or_compute(conn, cache_key, |conn| {
        let mut q = collectivites::table
            .filter(client_collectivite_set(editeur_id))
            .into_boxed();
        // Uncapped: the éditeur's clients narrow the list; a search must never hide one.
        if let Some(text) = crate::search::parse(search) {
            q = q.filter(crate::search::target_in_all(
                conn,
                "collectivites.id",
                crate::search::Kind::Collectivite,
                &text,
            ));
        }
        let mut rows: Candidates = q
            .order(collectivites::siret.asc())
            .select((collectivites::id, collectivites::siret, collectivites::name))
            .load(conn)?;
        // In Rust's byte order, which `page` seeks the cursor in, whatever the database's
        // collation.
        rows.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(rows)
    })
}

/// Up to `limit` clients of `editeur_id` kept by `filter`, after the SIRET `after`, in SIRET
/// order: the éditeur's client collectivités (see [`candidates`]) are read in chunks from the
/// cursor, each chunk's details at once, so the work is bounded by what the page needs.
#[allow(clippy::too_many_arguments)]
pub fn page(
    conn: &mut DbConnection,
    editeur_id: &str,
    filter: &ClientFilter,
    after: Option<&str>,
    limit: i64,
    today: NaiveDate,
    form_base_url: &str,
    cache: &ResultCache<Candidates>,
) -> QueryResult<ClientPage> {
    let limit = limit.max(1);
    let mut items: Vec<ClientRow> = Vec::new();
    let all = candidates(conn, editeur_id, filter.search.trim(), cache)?;
    let after = after.unwrap_or_default();
    let mut position = all.partition_point(|(_, siret, _)| siret.as_str() <= after);
    // Start with what the page needs (one row per collectivité, plus one to know whether
    // another page follows) and double while a filter drops rows: an unfiltered page reads
    // `limit + 1` collectivités' details, not a whole chunk.
    let mut chunk_size = usize::try_from((limit + 1).min(CHUNK)).unwrap_or(1);
    while position < all.len() {
        let end = (position + chunk_size).min(all.len());
        let chunk = all[position..end].to_vec();
        position = end;
        chunk_size = (chunk_size * 2).min(usize::try_from(CHUNK).unwrap_or(chunk_size));
        for row in details(conn, editeur_id, chunk, today, form_base_url)? {
            if filter.keeps(&row) {
                items.push(row);
                if items.len() as i64 > limit {
                    items.truncate(limit as usize);
                    let next_cursor = items.last().map(|r| r.siret.clone());
                    return Ok(ClientPage { items, next_cursor });
                }
            }
        }
    }
    Ok(ClientPage {
        items,
        next_cursor: None,
    })
}

/// Every client kept by `filter` (CSV, calendar), in SIRET order.
pub fn all(
    conn: &mut DbConnection,
    editeur_id: &str,
    filter: &ClientFilter,
    today: NaiveDate,
    form_base_url: &str,
    cache: &ResultCache<Candidates>,
) -> QueryResult<Vec<ClientRow>> {
    let mut rows = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = page(
            conn,
            editeur_id,
            filter,
            after.as_deref(),
            CHUNK,
            today,
            form_base_url,
            cache,
        )?;
        rows.extend(page.items);
        match page.next_cursor {
            Some(next) => after = Some(next),
            None => return Ok(rows),
        }
    }
}

/// The client with this SIRET, if it is one of the éditeur's.
pub fn find(
    conn: &mut DbConnection,
    editeur_id: &str,
    siret: &str,
    today: NaiveDate,
    form_base_url: &str,
) -> QueryResult<Option<ClientRow>> {
    let found: Option<(String, String, String)> = collectivites::table
        .filter(collectivites::siret.eq(siret))
        .filter(client_collectivite_filter(editeur_id))
        .select((collectivites::id, collectivites::siret, collectivites::name))
        .first(conn)
        .optional()?;
    Ok(match found {
        Some(row) => details(conn, editeur_id, vec![row], today, form_base_url)?
            .into_iter()
            .next(),
        None => None,
    })
}

/// Request id, state, DataPass number, created at, collectivité id.
type RequestColumns = (String, String, Option<i64>, NaiveDateTime, String);

/// The rows of these collectivités (id, SIRET, name), in the same order.
fn details(
    conn: &mut DbConnection,
    editeur_id: &str,
    collectivites: Vec<(String, String, String)>,
    today: NaiveDate,
    form_base_url: &str,
) -> QueryResult<Vec<ClientRow>> {
    if collectivites.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = collectivites.iter().map(|(id, _, _)| id.clone()).collect();
    let requests: Vec<RequestColumns> = habilitation_requests::table
        .filter(crate::db::condition::Condition::one_of(
            conn,
            "habilitation_requests.collectivite_id",
            &ids,
        ))
        .filter(client_row_filter(editeur_id))
        .select((
            habilitation_requests::id,
            habilitation_requests::state,
            habilitation_requests::datapass_id,
            habilitation_requests::created_at,
            habilitation_requests::collectivite_id,
        ))
        .load(conn)?;
    let mut latest: HashMap<String, RequestColumns> = HashMap::new();
    for row in requests {
        let newer = latest
            .get(&row.4)
            .is_none_or(|kept| (row.3, &row.0) > (kept.3, &kept.0));
        if newer {
            latest.insert(row.4.clone(), row);
        }
    }
    let token_rows: Vec<(String, NaiveDate, Option<NaiveDateTime>)> = tokens::table
        .filter(crate::db::condition::Condition::one_of(
            conn,
            "tokens.collectivite_id",
            &ids,
        ))
        .select((
            tokens::collectivite_id,
            tokens::expires_on,
            tokens::revoked_at,
        ))
        .load(conn)?;
    // The current token: the live one expiring last; else the last revoked one.
    let mut current: HashMap<String, (NaiveDate, bool)> = HashMap::new();
    for (collectivite, expires_on, revoked_at) in token_rows {
        let candidate = (expires_on, revoked_at.is_some());
        let better = current.get(&collectivite).is_none_or(|kept| {
            (!candidate.1 && kept.1) || (candidate.1 == kept.1 && candidate.0 > kept.0)
        });
        if better {
            current.insert(collectivite, candidate);
        }
    }
    let subscriptions: HashMap<String, (String, String)> = hubee_subscriptions::table
        .filter(crate::db::condition::Condition::one_of(
            conn,
            "hubee_subscriptions.collectivite_id",
            &ids,
        ))
        .filter(hubee_subscriptions::process_code.eq(PROCESS_CODE))
        .select((
            hubee_subscriptions::collectivite_id,
            hubee_subscriptions::status,
            hubee_subscriptions::access_mode,
        ))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(id, status, mode)| (id, (status, mode)))
        .collect();
    let activations: HashMap<String, (String, Option<bool>)> = form_activations::table
        .filter(crate::db::condition::Condition::one_of(
            conn,
            "form_activations.collectivite_id",
            &ids,
        ))
        .select((
            form_activations::collectivite_id,
            form_activations::state,
            form_activations::live,
        ))
        .load::<(String, String, Option<bool>)>(conn)?
        .into_iter()
        .map(|(id, state, live)| (id, (state, live)))
        .collect();
    Ok(collectivites
        .into_iter()
        .map(|(id, siret, name)| {
            let form_live = activations
                .get(&id)
                .map(|(state, live)| state == crate::provisioning::DONE && *live == Some(true));
            let request = latest.get(&id);
            let token = current.get(&id).copied();
            let subscription = subscriptions.get(&id);
            ClientRow {
                form_url: format!(
                    "{}/collectivites/{}",
                    form_base_url.trim_end_matches('/'),
                    siret
                ),
                siret,
                name,
                request_state: request.map(|r| r.1.clone()),
                request_state_label: request.map(|r| {
                    r.1.parse::<RequestState>()
                        .map_or("Inconnu", RequestState::label_fr)
                }),
                datapass_id: request.and_then(|r| r.2).map(|d| format!("D{d}")),
                request_id: request.map(|r| r.0.clone()),
                token_expires_on: token.map(|t| t.0),
                token_days_left: token.map(|t| days_left(t.0, today)),
                token_status: token.map(|t| token_status(t.0, t.1, today).as_str()),
                prolongation_open: token.is_some_and(|t| prolongation_open(t.0, t.1, today)),
                hubee_status: subscription.map(|s| s.0.clone()),
                hubee_status_label: subscription.map(|s| {
                    s.0.parse::<SubscriptionStatus>()
                        .map_or("Inconnu", SubscriptionStatus::label_fr)
                }),
                hubee_access_mode: subscription.map(|s| s.1.clone()),
                form_live,
                collectivite_id: id,
            }
        })
        .collect())
}
