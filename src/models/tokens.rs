//! API Particulier tokens: their lifetime as the back office knows it (never a usable secret).

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::tokens;
use crate::domain::token::{REVOKED, TokenStatus, token_status};

/// A token tied to a habilitation; a prolonged token keeps its id.
#[derive(Clone, Debug, Queryable, Selectable, Insertable, Identifiable, serde::Serialize)]
#[diesel(table_name = tokens, treat_none_as_default_value = false)]
pub struct Token {
    pub id: String,
    pub habilitation_id: String,
    pub collectivite_id: String,
    pub scopes: String,
    pub issued_at: NaiveDateTime,
    pub expires_on: NaiveDate,
    pub revoked_at: Option<NaiveDateTime>,
    pub revocation_reason: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The day the next renewal reminder is due (`None`: no reminder pending).
    pub next_reminder_on: Option<NaiveDate>,
}

impl Token {
    /// The token's status on `today`.
    pub fn status(&self, today: NaiveDate) -> TokenStatus {
        token_status(self.expires_on, self.revoked_at.is_some(), today)
    }
}

/// Number of tokens in each status on `today`, in the order of `TokenStatus::ALL`.
pub fn count_by_status(
    conn: &mut DbConnection,
    today: NaiveDate,
) -> QueryResult<Vec<(TokenStatus, i64)>> {
    // From the per-day counters kept by triggers (a few hundred rows), never a count of
    // the tokens: at national scale that read ~100 000 index entries per view.
    let expiring_end = today
        .checked_add_days(chrono::Days::new(
            crate::domain::token::EXPIRING_WINDOW_DAYS.unsigned_abs(),
        ))
        .unwrap_or(NaiveDate::MAX);
    let (total, revoked, expired, expiring) =
        super::counters::token_totals(conn, today, expiring_end)?;
    let active = total - revoked - expired - expiring;
    Ok(TokenStatus::ALL
        .iter()
        .map(|status| {
            let n = match status {
                TokenStatus::Active => active,
                TokenStatus::Expiring => expiring,
                TokenStatus::Expired => expired,
                TokenStatus::Revoked => revoked,
            };
            (*status, n)
        })
        .collect())
}

/// Sets a token's expiry (issue or prolongation) and restarts its reminder series.
pub fn set_expiry(
    conn: &mut DbConnection,
    token_id: &str,
    expires_on: NaiveDate,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(tokens::table.find(token_id))
        .set((
            tokens::expires_on.eq(expires_on),
            tokens::updated_at.eq(at),
            tokens::next_reminder_on.eq(crate::domain::reminders::next_due_on(expires_on, None)),
        ))
        .execute(conn)?;
    Ok(())
}

/// A token with what its pages need: the request it came from, the collectivité, the éditeur
/// and the two contacts e-mails are sent to.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TokenContext {
    pub token: Token,
    pub request_id: String,
    pub datapass_id: Option<i64>,
    pub request_state: String,
    pub reopening: bool,
    pub editeur_id: Option<String>,
    pub editeur_name: Option<String>,
    pub collectivite_id: String,
    pub collectivite_name: String,
    pub siret: String,
    pub departement: Option<String>,
    pub demandeur: Option<String>,
    pub contact_technique: Option<String>,
}

/// A token with its request, collectivité and éditeur id, as loaded.
type ContextRow = (
    Token,
    String,
    Option<i64>,
    String,
    bool,
    Option<String>,
    String,
    String,
    Option<String>,
);

/// One token and its context.
pub fn context(conn: &mut DbConnection, token_id: &str) -> QueryResult<Option<TokenContext>> {
    use crate::db::schema::{collectivites, editeurs, habilitation_requests, habilitations};
    let row: Option<ContextRow> = tokens::table
        .inner_join(habilitations::table.inner_join(habilitation_requests::table))
        .inner_join(collectivites::table)
        .filter(tokens::id.eq(token_id))
        .select((
            Token::as_select(),
            habilitation_requests::id,
            habilitation_requests::datapass_id,
            habilitation_requests::state,
            habilitation_requests::reopening,
            habilitation_requests::editeur_id,
            collectivites::name,
            collectivites::siret,
            collectivites::departement,
        ))
        .first(conn)
        .optional()?;
    let Some((
        token,
        request_id,
        datapass_id,
        request_state,
        reopening,
        editeur_id,
        name,
        siret,
        departement,
    )) = row
    else {
        return Ok(None);
    };
    let editeur_name: Option<String> = match &editeur_id {
        Some(id) => editeurs::table
            .find(id)
            .select(editeurs::name)
            .first(conn)
            .optional()?,
        None => None,
    };
    let contacts = crate::models::requests::contacts(conn, &request_id)?;
    let email_of = |role: &str| {
        contacts
            .iter()
            .find(|c| c.role == role)
            .map(|c| c.email.clone())
    };
    use crate::models::requests::roles;
    Ok(Some(TokenContext {
        collectivite_id: token.collectivite_id.clone(),
        token,
        request_id,
        datapass_id,
        request_state,
        reopening,
        editeur_id,
        editeur_name,
        collectivite_name: name,
        siret,
        departement,
        demandeur: email_of(roles::DEMANDEUR),
        contact_technique: email_of(roles::CONTACT_TECHNIQUE),
    }))
}

/// Filters of the staff token list.
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct TokenFilter {
    /// `90`, `30` or `7`: expiring within that many days.
    #[serde(default)]
    pub fenetre: String,
    /// `expired` or `revoked`.
    #[serde(default)]
    pub statut: String,
    #[serde(default)]
    pub editeur: String,
    #[serde(default)]
    pub departement: String,
    /// Collectivité name or SIRET, or token id.
    #[serde(default)]
    pub q: String,
}

/// A line of the staff token list.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TokenLine {
    pub id: String,
    pub request_id: String,
    pub datapass_id: Option<i64>,
    pub collectivite_name: String,
    pub siret: String,
    pub departement: Option<String>,
    pub editeur_name: Option<String>,
    pub expires_on: NaiveDate,
    pub days_left: i64,
    pub status: &'static str,
    pub status_label: &'static str,
    /// `red` under 30 days, `orange` under 90, `none` otherwise (and for revoked tokens).
    pub urgency: &'static str,
}

/// Rows per page of the token list.
pub const PER_PAGE: i64 = 30;

type TokenRow = (
    String,
    NaiveDate,
    Option<NaiveDateTime>,
    String,
    Option<i64>,
    String,
    String,
    Option<String>,
    Option<String>,
);

/// Applies the window (`fenetre`) and status filters, which only read `tokens`, to a boxed
/// query over `tokens` (alone or joined).
/// The last expiry day of a `fenetre` window (days from `today`); `None` without a window or
/// past the calendar. At most 31/12/9999: SQLite stores later dates as `+10000-…`, text that
/// sorts before every real date, so the list and its count would disagree.
fn window_end(fenetre: &str, today: NaiveDate) -> Option<NaiveDate> {
    let days = fenetre.parse::<u64>().ok()?;
    let end = today.checked_add_days(chrono::Days::new(days))?;
    Some(end.min(NaiveDate::from_ymd_opt(9999, 12, 31)?))
}

macro_rules! token_filters {
    ($q:expr, $filter:expr, $today:expr) => {{
        let mut q = $q;
        let today: NaiveDate = $today;
        if let Some(limit) = window_end(&$filter.fenetre, today) {
            q = q
                .filter(tokens::revoked_at.is_null())
                .filter(tokens::expires_on.ge(today))
                .filter(tokens::expires_on.le(limit));
        }
        match $filter.statut.as_str() {
            "expired" => {
                q = q
                    .filter(tokens::revoked_at.is_null())
                    .filter(tokens::expires_on.lt(today));
            }
            REVOKED => q = q.filter(tokens::revoked_at.is_not_null()),
            "active" => {
                q = q
                    .filter(tokens::revoked_at.is_null())
                    .filter(tokens::expires_on.ge(today));
            }
            _ => {}
        }
        q
    }};
}

/// The staff token list on `today`, soonest expiry first.
pub fn list(
    conn: &mut DbConnection,
    filter: &TokenFilter,
    today: NaiveDate,
    page: i64,
    results: &crate::models::result_cache::ResultCache,
    counted: Option<i64>,
) -> QueryResult<crate::db::Page<TokenLine>> {
    use crate::db::schema::{collectivites, editeurs, habilitation_requests, habilitations};
    use crate::models::result_cache::{Matches, key};
    let target = |conn: &mut DbConnection, text: &crate::search::SearchText| {
        crate::search::target_in(
            conn,
            "tokens.collectivite_id",
            crate::search::Kind::Collectivite,
            text,
        )
    };
    let text = crate::search::parse(&filter.q);
    // A search (with or without window and status) reads only the tokens: the ids of every
    // match in the list's order (a few thousand at most, see `search::LIST_CAP`) give the
    // count and the page, then only the page is joined; they are kept until the data changes
    // (see `models::result_cache`). With an éditeur or département filter, the joined list.
    let tokens_only = filter.editeur.is_empty() && filter.departement.trim().is_empty();
    let search = match &text {
        Some(text) if !tokens_only => Some(target(conn, text)?),
        _ => None,
    };
    let joined = || {
        tokens::table
            .inner_join(
                habilitations::table
                    .inner_join(habilitation_requests::table.left_join(editeurs::table)),
            )
            .inner_join(collectivites::table)
            .into_boxed()
    };
    let filtered = || {
        let mut q = joined();
        q = token_filters!(q, filter, today);
        match filter.editeur.as_str() {
            "" => {}
            "aucun" => q = q.filter(habilitation_requests::editeur_id.is_null()),
            id => q = q.filter(habilitation_requests::editeur_id.eq(id.to_owned())),
        }
        if !filter.departement.trim().is_empty() {
            q = q.filter(collectivites::departement.eq(filter.departement.trim().to_owned()));
        }
        if let Some(search) = &search {
            q = q.filter(search.clone().or(tokens::id.eq(filter.q.trim().to_owned())));
        }
        q
    };
    let mut capped = search.as_ref().is_some_and(|s| s.capped);
    let (total, page, found) = match &text {
        Some(text) if tokens_only => {
            let today_key = today.to_string();
            let cache_key = key(
                "tokens",
                &[&filter.q, &filter.fenetre, &filter.statut, &today_key],
            );
            let found = results.get_or_compute(conn, cache_key, |conn| {
                let search = target(conn, text)?;
                let mut q = tokens::table.into_boxed();
                q = token_filters!(q, filter, today);
                let ids = q
                    .filter(search.clone().or(tokens::id.eq(filter.q.trim().to_owned())))
                    .order((tokens::expires_on.asc(), tokens::id.asc()))
                    .select(tokens::id)
                    .load(conn)?;
                Ok(Matches {
                    ids,
                    capped: search.capped,
                })
            })?;
            capped = found.capped;
            let total = found.total();
            (
                total,
                crate::db::clamp_page(page, total, PER_PAGE),
                Some(found),
            )
        }
        _ => {
            let total: i64 = match counted {
                Some(total) if tokens_only && text.is_none() => total,
                _ => count(conn, filter, search.as_ref(), today)?,
            };
            (total, crate::db::clamp_page(page, total, PER_PAGE), None)
        }
    };
    // The page's ids already passed every filter: only they are joined.
    let rows_query = match &found {
        Some(found) => joined().filter(crate::db::condition::Condition::one_of(
            conn,
            "tokens.id",
            crate::db::page_of(&found.ids, page, PER_PAGE),
        )),
        // Without an éditeur, a département or a search, the page's ids are read from the
        // tokens alone (index entries skipped, not joined rows: the last page reads as fast as
        // the first), then only they are joined.
        None if tokens_only && text.is_none() => {
            let mut q = tokens::table.into_boxed();
            q = token_filters!(q, filter, today);
            let ids: Vec<String> = q
                .order((tokens::expires_on.asc(), tokens::id.asc()))
                .select(tokens::id)
                .limit(PER_PAGE)
                .offset(crate::db::offset(page, PER_PAGE))
                .load(conn)?;
            joined().filter(crate::db::condition::Condition::one_of(
                conn,
                "tokens.id",
                &ids,
            ))
        }
        None => filtered()
            .limit(PER_PAGE)
            .offset(crate::db::offset(page, PER_PAGE)),
    };
    let rows: Vec<TokenRow> = rows_query
        .order((tokens::expires_on.asc(), tokens::id.asc()))
        .select((
            tokens::id,
            tokens::expires_on,
            tokens::revoked_at,
            habilitation_requests::id,
            habilitation_requests::datapass_id,
            collectivites::name,
            collectivites::siret,
            collectivites::departement,
            editeurs::name.nullable(),
        ))
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(
            |(
                id,
                expires_on,
                revoked_at,
                request_id,
                datapass_id,
                name,
                siret,
                departement,
                editeur,
            )| {
                let status = token_status(expires_on, revoked_at.is_some(), today);
                let left = crate::domain::token::days_left(expires_on, today);
                TokenLine {
                    id,
                    request_id,
                    datapass_id,
                    collectivite_name: name,
                    siret,
                    departement,
                    editeur_name: editeur,
                    expires_on,
                    days_left: left,
                    status: status.as_str(),
                    status_label: status.label_fr(),
                    urgency: match (status, left) {
                        (TokenStatus::Revoked, _) => "none",
                        (_, l) if l < 30 => "red",
                        (_, l) if l < 90 => "orange",
                        _ => "none",
                    },
                }
            },
        )
        .collect();
    Ok(crate::db::Page::new(items, page, PER_PAGE, total).truncated(capped))
}

/// What the token list shows whatever its page: the month chart and, for a list filtered by
/// window and status only, its count (summed from the per-day counters). Both change only with
/// a token's expiry or revocation, which move the data version: kept until then (see
/// `models::result_cache`).
#[derive(Debug)]
pub struct Summary {
    /// Expiries per month (see [`expiries_by_month`]).
    pub months: Vec<(String, i64)>,
    /// The number of tokens `filter` shows, when the counters give it (no search, éditeur or
    /// département).
    pub total: Option<i64>,
}

/// The [`Summary`] of the token list on `today` for `filter`.
pub fn summary(
    conn: &mut DbConnection,
    filter: &TokenFilter,
    today: NaiveDate,
    cache: &crate::models::result_cache::ResultCache<Summary>,
) -> QueryResult<std::sync::Arc<Summary>> {
    let countable = filter.editeur.is_empty()
        && filter.departement.trim().is_empty()
        && crate::search::parse(&filter.q).is_none();
    let today_key = today.to_string();
    let key = if countable {
        crate::models::result_cache::key(
            "tokens-summary",
            &[&today_key, &filter.fenetre, &filter.statut],
        )
    } else {
        crate::models::result_cache::key("tokens-months", &[&today_key])
    };
    cache.get_or_compute(conn, key, |conn| {
        Ok(Summary {
            months: expiries_by_month(conn, today)?,
            total: if countable {
                Some(count(conn, filter, None, today)?)
            } else {
                None
            },
        })
    })
}

/// Expiries of active tokens per month for the 18 months from `today`'s month:
/// (`YYYY-MM`, count), every month listed.
pub fn expiries_by_month(
    conn: &mut DbConnection,
    today: NaiveDate,
) -> QueryResult<Vec<(String, i64)>> {
    use chrono::Datelike;
    let first = today.with_day(1).unwrap_or(today);
    let end = first
        .checked_add_months(chrono::Months::new(18))
        .unwrap_or(NaiveDate::MAX);
    // The per-day counters kept by triggers, summed per month in SQL: no token is read.
    let last = end.pred_opt().unwrap_or(end);
    let months = super::counters::token_months(conn, today, last)?;
    Ok((0..18)
        .filter_map(|i| first.checked_add_months(chrono::Months::new(i)))
        .map(|month| {
            let key = month.format("%Y-%m").to_string();
            let n = months
                .iter()
                .find(|(m, _)| *m == key)
                .map_or(0, |(_, n)| *n);
            (key, n)
        })
        .collect())
}

/// The number of tokens the staff list shows for `filter`: counted on `tokens` alone, joined
/// only to what a filter needs (every token has its habilitation, request and collectivité),
/// so that the count reads an index range instead of joining every row.
fn count(
    conn: &mut DbConnection,
    filter: &TokenFilter,
    search: Option<&crate::search::TargetIn>,
    today: NaiveDate,
) -> QueryResult<i64> {
    use crate::db::schema::{collectivites, habilitation_requests, habilitations};
    let query = filter.q.trim();
    let needs_request = !filter.editeur.is_empty();
    let needs_collectivite = !filter.departement.trim().is_empty();
    if needs_request || needs_collectivite {
        // Rare, narrow filters: the joined count (the same rows as the list).
        let mut q = tokens::table
            .inner_join(habilitations::table.inner_join(habilitation_requests::table))
            .inner_join(collectivites::table)
            .into_boxed();
        q = token_filters!(q, filter, today);
        match filter.editeur.as_str() {
            "" => {}
            "aucun" => q = q.filter(habilitation_requests::editeur_id.is_null()),
            id => q = q.filter(habilitation_requests::editeur_id.eq(id.to_owned())),
        }
        if !filter.departement.trim().is_empty() {
            q = q.filter(collectivites::departement.eq(filter.departement.trim().to_owned()));
        }
        if let Some(search) = search {
            q = q.filter(search.clone().or(tokens::id.eq(query.to_owned())));
        }
        return q.count().get_result(conn);
    }
    // A search alone is counted by `list` with its page.
    // Window and status filters only: summed from the per-day counters (see
    // `models::counters`), with the same rules as `token_filters!`.
    use super::counters::token_sum;
    // No window (or a window too far to compute, which the list ignores too).
    let window = window_end(&filter.fenetre, today).map(|end| (today, end));
    let (from, to, revoked) = match window {
        Some((start, end)) => (Some(start), Some(end), Some(false)),
        None => (None, None, None),
    };
    // The status filter narrows the window further (both are conditions on the same rows).
    match filter.statut.as_str() {
        "expired" => {
            let to = [to, today.pred_opt()].into_iter().flatten().min();
            if revoked.is_some() && from.is_some_and(|f| f >= today) {
                return Ok(0);
            }
            token_sum(conn, from, to, Some(false))
        }
        REVOKED if revoked == Some(false) => Ok(0),
        REVOKED => token_sum(conn, from, to, Some(true)),
        "active" => {
            let from = [from, Some(today)].into_iter().flatten().max();
            token_sum(conn, from, to, Some(false))
        }
        _ => token_sum(conn, from, to, revoked),
    }
}
