//! Counts the staff pages show, read from the counter tables that SQL triggers keep exact in
//! the transaction of every change (migration `2026-11-30-000021_list_counters`): requests per
//! state, HubEE subscriptions per status, collectivités, tokens per expiry day; collectivités
//! per département and requests per (form, éditeur) pair (migration `2026-11-30-000025_request_link_counts`). A page view
//! reads a few counter rows instead of counting whole tables.

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{row_counts, token_expiry_counts};

/// The counts of one list, per bucket (state, status…).
pub fn buckets(conn: &mut DbConnection, list: &str) -> QueryResult<Vec<(String, i64)>> {
    row_counts::table
        .filter(row_counts::list.eq(list))
        .select((row_counts::bucket, row_counts::n))
        .load(conn)
}

/// The count of one bucket of a list (0 when never counted).
pub fn bucket(conn: &mut DbConnection, list: &str, bucket: &str) -> QueryResult<i64> {
    Ok(row_counts::table
        .filter(row_counts::list.eq(list))
        .filter(row_counts::bucket.eq(bucket))
        .select(row_counts::n)
        .first::<i64>(conn)
        .optional()?
        .unwrap_or(0))
}

/// Client requests per éditeur, by éditeur id: the requests recorded for it, plus those made
/// through one of its pre-filled forms and recorded for no one or another éditeur (the
/// requests of `models::editeurs::client_filter`). Summed from `request_link_counts`, requests
/// per (form, recorded éditeur) pair: a few hundred rows, whatever the number of requests.
pub fn client_requests(
    conn: &mut DbConnection,
) -> QueryResult<std::collections::HashMap<String, i64>> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        editeur_id: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT links.editeur_id AS editeur_id, CAST(SUM(links.n) AS BIGINT) AS n FROM ( \
             SELECT editeur_id, n FROM request_link_counts WHERE editeur_id <> '' \
             UNION ALL \
             SELECT editeur_forms.editeur_id AS editeur_id, request_link_counts.n AS n \
             FROM request_link_counts JOIN editeur_forms \
                 ON editeur_forms.form_uid = request_link_counts.form_uid \
             WHERE request_link_counts.editeur_id <> editeur_forms.editeur_id \
         ) AS links GROUP BY links.editeur_id",
    )
    .load(conn)?;
    Ok(rows.into_iter().map(|r| (r.editeur_id, r.n)).collect())
}

/// Requests per state (`habilitation_requests.state`).
pub const REQUESTS: &str = "requests";
/// HubEE subscriptions per status (`hubee_subscriptions.status`).
pub const HUBEE: &str = "hubee";
/// Every collectivité (one bucket, `""`).
pub const COLLECTIVITES: &str = "collectivites";
/// Collectivités per département (collectivités without one are not counted).
pub const DEPARTEMENTS: &str = "departements";

/// Tokens per expiry day within `from..=to` (any bound open when `None`): (day, revoked, n),
/// by day. At most two rows per day.
pub fn token_days(
    conn: &mut DbConnection,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> QueryResult<Vec<(NaiveDate, bool, i64)>> {
    let mut q = token_expiry_counts::table
        .filter(token_expiry_counts::n.ne(0))
        .into_boxed();
    if let Some(from) = from {
        q = q.filter(token_expiry_counts::expires_on.ge(from));
    }
    if let Some(to) = to {
        q = q.filter(token_expiry_counts::expires_on.le(to));
    }
    q.order(token_expiry_counts::expires_on.asc())
        .select((
            token_expiry_counts::expires_on,
            token_expiry_counts::revoked,
            token_expiry_counts::n,
        ))
        .load(conn)
}

/// Token totals in one read of the per-day counters: (all, revoked, expired before `today`,
/// expiring within `today..=expiring_end`), revoked ones in neither of the last two.
pub fn token_totals(
    conn: &mut DbConnection,
    today: NaiveDate,
    expiring_end: NaiveDate,
) -> QueryResult<(i64, i64, i64, i64)> {
    #[derive(diesel::QueryableByName)]
    struct Totals {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        total: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        revoked: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        expired: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        expiring: i64,
    }
    // The bounds are dates formatted here (`YYYY-MM-DD`), never user text.
    let t: Totals = diesel::sql_query(format!(
        "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS total, \
                CAST(COALESCE(SUM(CASE WHEN revoked THEN n ELSE 0 END), 0) AS BIGINT) AS revoked, \
                CAST(COALESCE(SUM(CASE WHEN NOT revoked AND expires_on < '{today}' \
                    THEN n ELSE 0 END), 0) AS BIGINT) AS expired, \
                CAST(COALESCE(SUM(CASE WHEN NOT revoked AND expires_on >= '{today}' \
                    AND expires_on <= '{end}' THEN n ELSE 0 END), 0) AS BIGINT) AS expiring \
         FROM token_expiry_counts",
        today = today.format("%Y-%m-%d"),
        end = expiring_end.format("%Y-%m-%d"),
    ))
    .get_result(conn)?;
    Ok((t.total, t.revoked, t.expired, t.expiring))
}

/// Tokens not revoked expiring within `from..=to`, per month (`YYYY-MM`, months without any
/// left out): summed in SQL over the per-day counters, a row per month leaves the database.
pub fn token_months(
    conn: &mut DbConnection,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<(String, i64)>> {
    #[derive(diesel::QueryableByName)]
    struct Month {
        #[diesel(sql_type = diesel::sql_types::Text)]
        month: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    // SQLite keeps dates as `YYYY-MM-DD` text: the month is its first 7 characters, cheaper
    // than parsing each day with `strftime` (the chart was a fifth of `/jetons`).
    let month = match conn {
        DbConnection::Sqlite(_) => "substr(expires_on, 1, 7)",
        DbConnection::Postgresql(_) => "to_char(expires_on, 'YYYY-MM')",
    };
    // The bounds are dates formatted here (`YYYY-MM-DD`), never user text.
    let rows: Vec<Month> = diesel::sql_query(format!(
        "SELECT {month} AS month, CAST(SUM(n) AS BIGINT) AS n FROM token_expiry_counts \
         WHERE expires_on >= '{from}' AND expires_on <= '{to}' AND revoked = FALSE \
         GROUP BY {month}",
        from = from.format("%Y-%m-%d"),
        to = to.format("%Y-%m-%d"),
    ))
    .load(conn)?;
    Ok(rows.into_iter().map(|m| (m.month, m.n)).collect())
}

/// Tokens whose expiry day is within `from..=to` (any bound open when `None`), revoked or not
/// as `revoked` says (either when `None`): a sum in SQL over the per-day counters.
pub fn token_sum(
    conn: &mut DbConnection,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    revoked: Option<bool>,
) -> QueryResult<i64> {
    let mut q = token_expiry_counts::table.into_boxed();
    if let Some(from) = from {
        q = q.filter(token_expiry_counts::expires_on.ge(from));
    }
    if let Some(to) = to {
        q = q.filter(token_expiry_counts::expires_on.le(to));
    }
    if let Some(revoked) = revoked {
        q = q.filter(token_expiry_counts::revoked.eq(revoked));
    }
    // The same integer type on both backends (PostgreSQL sums a BIGINT as NUMERIC).
    q.select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "CAST(COALESCE(SUM(n), 0) AS BIGINT)",
    ))
    .first(conn)
}
