//! Counts the staff pages show, read from the counter tables that SQL triggers keep exact in
//! the transaction of every change: requests per state, HubEE subscriptions per status,
//! collectivités, tokens per expiry day (migration `2026-11-30-000021_list_counters`);
//! collectivités per département and requests per (form, éditeur) pair (`…000025`); tokens per
//! expiry month (`…000029`). A page view reads a few counter rows instead of counting whole
//! tables.

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{row_counts, token_expiry_counts, token_expiry_month_counts};

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

/// One éditeur's client requests (see [`client_requests`]), from `request_link_counts`:
/// (all of them, those made through `form_uids` — its forms — and recorded for no one or
/// another éditeur).
pub fn client_requests_of(
    conn: &mut DbConnection,
    editeur_id: &str,
    form_uids: &[String],
) -> QueryResult<(i64, i64)> {
    use crate::db::schema::request_link_counts as links;
    let own: Vec<i64> = links::table
        .filter(links::editeur_id.eq(editeur_id))
        .select(links::n)
        .load(conn)?;
    let through_forms: Vec<i64> = if form_uids.is_empty() {
        Vec::new()
    } else {
        links::table
            .filter(links::form_uid.eq_any(form_uids))
            .filter(links::editeur_id.ne(editeur_id))
            .select(links::n)
            .load(conn)?
    };
    let through_forms: i64 = through_forms.iter().sum();
    Ok((own.iter().sum::<i64>() + through_forms, through_forms))
}

/// Requests per state (`habilitation_requests.state`).
pub const REQUESTS: &str = "requests";
/// HubEE subscriptions per status (`hubee_subscriptions.status`).
pub const HUBEE: &str = "hubee";
/// Every collectivité (one bucket, `""`).
pub const COLLECTIVITES: &str = "collectivites";
/// Collectivités per département (collectivités without one are not counted).
pub const DEPARTEMENTS: &str = "departements";
/// Versions bumped by triggers (one bucket per cached read).
pub const VERSIONS: &str = "versions";
/// The version of the list filters' choices (éditeurs, départements in use).
pub const FILTER_CHOICES: &str = "filter_choices";
/// The version of the data cached list results are computed from (see `models::result_cache`).
pub const LISTS: &str = "lists";

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

/// Token totals: (all, revoked, expired before `today`, expiring within
/// `today..=expiring_end`), revoked ones in neither of the last two. One statement (one
/// snapshot: `active = all − the others` never goes negative under concurrent writes) over the
/// per-month counters (a few dozen rows) and the days of the partial months only.
pub fn token_totals(
    conn: &mut DbConnection,
    today: NaiveDate,
    expiring_end: NaiveDate,
) -> QueryResult<(i64, i64, i64, i64)> {
    #[derive(diesel::QueryableByName)]
    struct Totals {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        live: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        revoked: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        expired: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        expiring: i64,
    }
    let expired = match today.pred_opt() {
        Some(yesterday) => range_sum_sql(None, Some(yesterday), Some(false)),
        None => "CAST(0 AS BIGINT)".to_owned(),
    };
    let t: Totals = diesel::sql_query(format!(
        "SELECT {live} AS live, {revoked} AS revoked, {expired} AS expired, \
         {expiring} AS expiring",
        live = range_sum_sql(None, None, Some(false)),
        revoked = range_sum_sql(None, None, Some(true)),
        expiring = range_sum_sql(Some(today), Some(expiring_end), Some(false)),
    ))
    .get_result(conn)?;
    Ok((t.live + t.revoked, t.revoked, t.expired, t.expiring))
}

/// A SQL expression (a `BIGINT`) summing the tokens whose expiry day is within `from..=to`
/// (either bound open when `None`), revoked or not as `revoked` says (either when `None`):
/// whole months from the per-month counters, the days of partial months from the per-day
/// ones. The dates are formatted here (`YYYY-MM-DD`), never user text.
fn range_sum_sql(from: Option<NaiveDate>, to: Option<NaiveDate>, revoked: Option<bool>) -> String {
    let split = split_months(from, to);
    let flag = match revoked {
        Some(true) => " AND revoked = TRUE",
        Some(false) => " AND revoked = FALSE",
        None => "",
    };
    let day = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    let mut terms = Vec::new();
    for (start, end) in [split.head, split.tail].into_iter().flatten() {
        terms.push(format!(
            "(SELECT COALESCE(SUM(n), 0) FROM token_expiry_counts \
             WHERE expires_on >= '{}' AND expires_on <= '{}'{flag})",
            day(start),
            day(end)
        ));
    }
    if let Some((first, last)) = split.months {
        let mut condition = String::from("1 = 1");
        if let Some(first) = first {
            condition.push_str(&format!(" AND month >= '{}'", day(first)));
        }
        if let Some(last) = last {
            condition.push_str(&format!(" AND month <= '{}'", day(last)));
        }
        terms.push(format!(
            "(SELECT COALESCE(SUM(n), 0) FROM token_expiry_month_counts WHERE {condition}{flag})"
        ));
    }
    if terms.is_empty() {
        return "CAST(0 AS BIGINT)".to_owned();
    }
    // PostgreSQL sums a BIGINT as NUMERIC: cast back once.
    format!("CAST({} AS BIGINT)", terms.join(" + "))
}

/// A day range cut at month boundaries: the days before the first whole month, the whole
/// months (their first days, either bound open when `None`) and the days after the last.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MonthSplit {
    pub head: Option<(NaiveDate, NaiveDate)>,
    pub months: Option<(Option<NaiveDate>, Option<NaiveDate>)>,
    pub tail: Option<(NaiveDate, NaiveDate)>,
}

fn first_of_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

fn last_of_month(day: NaiveDate) -> NaiveDate {
    first_of_month(day)
        .checked_add_months(chrono::Months::new(1))
        .and_then(|next| next.pred_opt())
        .unwrap_or(NaiveDate::MAX)
}

/// Cuts `from..=to` (either bound open when `None`) at month boundaries.
pub fn split_months(from: Option<NaiveDate>, to: Option<NaiveDate>) -> MonthSplit {
    let mut split = MonthSplit::default();
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return split;
    }
    // The first whole month (its first day), `None` when open.
    let mut months_from = from;
    if let Some(f) = from
        && f.day() != 1
    {
        let month_end = last_of_month(f);
        let end = to.map_or(month_end, |t| t.min(month_end));
        split.head = Some((f, end));
        if to.is_some_and(|t| t <= month_end) {
            return split;
        }
        match month_end.succ_opt() {
            Some(next) => months_from = Some(next),
            None => return split,
        }
    }
    // The last whole month (its first day), `None` when open.
    let mut months_to = to.map(first_of_month);
    if let Some(t) = to
        && t != last_of_month(t)
    {
        let start = first_of_month(t);
        split.tail = Some((start, t));
        months_to = start
            .checked_sub_months(chrono::Months::new(1))
            .filter(|m| months_from.is_none_or(|f| *m >= f));
        if months_to.is_none() {
            return split;
        }
    }
    split.months = Some((months_from, months_to));
    split
}

/// Tokens not revoked expiring within `from..=to`, per month (`YYYY-MM`, months without any
/// left out): whole months from the per-month counters, partial ones summed from the days.
pub fn token_months(
    conn: &mut DbConnection,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<(String, i64)>> {
    let split = split_months(Some(from), Some(to));
    let key = |day: NaiveDate| day.format("%Y-%m").to_string();
    let mut months = Vec::new();
    if let Some((start, end)) = split.head {
        months.push((key(start), day_sum(conn, start, end, Some(false))?));
    }
    if let Some((first, last)) = split.months {
        let rows: Vec<(NaiveDate, i64)> = live_months_within(first, last)
            .order(token_expiry_month_counts::month.asc())
            .select((
                token_expiry_month_counts::month,
                token_expiry_month_counts::n,
            ))
            .load(conn)?;
        months.extend(rows.into_iter().map(|(month, n)| (key(month), n)));
    }
    if let Some((start, end)) = split.tail {
        months.push((key(start), day_sum(conn, start, end, Some(false))?));
    }
    months.retain(|(_, n)| *n != 0);
    Ok(months)
}

/// Tokens whose expiry day is within `from..=to` (any bound open when `None`), revoked or not
/// as `revoked` says (either when `None`), in one statement (see [`range_sum_sql`]).
pub fn token_sum(
    conn: &mut DbConnection,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    revoked: Option<bool>,
) -> QueryResult<i64> {
    #[derive(diesel::QueryableByName)]
    struct Sum {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let sum: Sum = diesel::sql_query(format!("SELECT {} AS n", range_sum_sql(from, to, revoked)))
        .get_result(conn)?;
    Ok(sum.n)
}

/// The per-month counters of tokens not revoked, for the months whose first day is within
/// `first..=last` (either bound open when `None`).
fn live_months_within(
    first: Option<NaiveDate>,
    last: Option<NaiveDate>,
) -> token_expiry_month_counts::BoxedQuery<'static, <DbConnection as diesel::Connection>::Backend> {
    let mut q = token_expiry_month_counts::table
        .filter(token_expiry_month_counts::revoked.eq(false))
        .into_boxed();
    if let Some(first) = first {
        q = q.filter(token_expiry_month_counts::month.ge(first));
    }
    if let Some(last) = last {
        q = q.filter(token_expiry_month_counts::month.le(last));
    }
    q
}

/// `SUM(n)` as the same integer type on both backends (PostgreSQL sums a BIGINT as NUMERIC).
fn sum_n() -> diesel::expression::SqlLiteral<diesel::sql_types::BigInt> {
    diesel::dsl::sql::<diesel::sql_types::BigInt>("CAST(COALESCE(SUM(n), 0) AS BIGINT)")
}

/// Tokens expiring within `from..=to` from the per-day counters (a month at most).
fn day_sum(
    conn: &mut DbConnection,
    from: NaiveDate,
    to: NaiveDate,
    revoked: Option<bool>,
) -> QueryResult<i64> {
    let mut q = token_expiry_counts::table
        .filter(token_expiry_counts::expires_on.ge(from))
        .filter(token_expiry_counts::expires_on.le(to))
        .into_boxed();
    if let Some(revoked) = revoked {
        q = q.filter(token_expiry_counts::revoked.eq(revoked));
    }
    q.select(sum_n()).first(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn split_months_cuts_partial_months_into_days() {
        // Mid-month to mid-month: head days, whole months, tail days.
        assert_eq!(
            split_months(Some(d(2026, 11, 30)), Some(d(2027, 2, 28))),
            MonthSplit {
                head: Some((d(2026, 11, 30), d(2026, 11, 30))),
                months: Some((Some(d(2026, 12, 1)), Some(d(2027, 2, 1)))),
                tail: None,
            }
        );
        assert_eq!(
            split_months(Some(d(2027, 1, 10)), Some(d(2027, 3, 15))),
            MonthSplit {
                head: Some((d(2027, 1, 10), d(2027, 1, 31))),
                months: Some((Some(d(2027, 2, 1)), Some(d(2027, 2, 1)))),
                tail: Some((d(2027, 3, 1), d(2027, 3, 15))),
            }
        );
        // Within one month: days only.
        assert_eq!(
            split_months(Some(d(2027, 1, 10)), Some(d(2027, 1, 20))),
            MonthSplit {
                head: Some((d(2027, 1, 10), d(2027, 1, 20))),
                ..Default::default()
            }
        );
        assert_eq!(
            split_months(Some(d(2027, 1, 1)), Some(d(2027, 1, 20))),
            MonthSplit {
                tail: Some((d(2027, 1, 1), d(2027, 1, 20))),
                ..Default::default()
            }
        );
        // Adjacent partial months, no whole month between.
        assert_eq!(
            split_months(Some(d(2027, 1, 10)), Some(d(2027, 2, 5))),
            MonthSplit {
                head: Some((d(2027, 1, 10), d(2027, 1, 31))),
                months: None,
                tail: Some((d(2027, 2, 1), d(2027, 2, 5))),
            }
        );
        // Open bounds.
        assert_eq!(
            split_months(None, Some(d(2026, 11, 29))),
            MonthSplit {
                months: Some((None, Some(d(2026, 10, 1)))),
                tail: Some((d(2026, 11, 1), d(2026, 11, 29))),
                ..Default::default()
            }
        );
        assert_eq!(
            split_months(Some(d(2026, 11, 30)), None),
            MonthSplit {
                head: Some((d(2026, 11, 30), d(2026, 11, 30))),
                months: Some((Some(d(2026, 12, 1)), None)),
                tail: None,
            }
        );
        assert_eq!(
            split_months(None, None),
            MonthSplit {
                months: Some((None, None)),
                ..Default::default()
            }
        );
        // Empty range, and the far end of the calendar.
        assert_eq!(
            split_months(Some(d(2027, 2, 1)), Some(d(2027, 1, 1))),
            MonthSplit::default()
        );
        assert!(
            split_months(Some(d(2027, 2, 1)), Some(NaiveDate::MAX))
                .months
                .is_some()
        );
    }
}
