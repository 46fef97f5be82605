//! Counts the staff pages show, read from the counter tables that SQL triggers keep exact in
//! the transaction of every change (migration `2026-11-30-000021_list_counters`): requests per
//! state, HubEE subscriptions per status, collectivités, tokens per expiry day. A page view
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

/// Requests per state (`habilitation_requests.state`).
pub const REQUESTS: &str = "requests";
/// HubEE subscriptions per status (`hubee_subscriptions.status`).
pub const HUBEE: &str = "hubee";
/// Every collectivité (one bucket, `""`).
pub const COLLECTIVITES: &str = "collectivites";

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
