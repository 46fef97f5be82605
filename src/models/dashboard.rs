//! Figures of the staff dashboard: requests received and decided per week, time to decision
//! in business days (median, 90th percentile) against the 3-business-day target, and clients
//! per éditeur. Token expiries per month come from `models::tokens::expiries_by_month`.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{editeurs, habilitation_requests};
use crate::domain::calendar::{is_business_day, paris_date};
use crate::domain::request_state::RequestState;

/// Weeks shown in the weekly chart.
pub const WEEKS: i64 = 12;
/// The instruction target, in business days.
pub const TARGET_BUSINESS_DAYS: i64 = 3;

/// (Monday of the week, received, decided), oldest first.
pub type WeekRow = (NaiveDate, i64, i64);

/// Monday of the week of `day`.
pub fn monday(day: NaiveDate) -> NaiveDate {
    day - Duration::days(day.weekday().num_days_from_monday() as i64)
}

/// Business days from `from` to `to` (0 when decided on a non-working day or the same day).
pub fn business_days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    let mut n = 0;
    let mut day = from;
    while day < to {
        day = day.succ_opt().unwrap_or(to);
        if is_business_day(day) {
            n += 1;
        }
    }
    n
}

/// The value at `pct` percent of sorted `values` (nearest rank).
pub fn percentile(sorted: &[i64], pct: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Created, submitted, validated, state and last event of a request.
type RequestTimes = (
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    String,
    Option<NaiveDateTime>,
);

/// What the dashboard shows.
#[derive(Debug, serde::Serialize)]
pub struct Figures {
    pub weeks: Vec<WeekRow>,
    pub decision_days_median: Option<i64>,
    pub decision_days_p90: Option<i64>,
    pub decisions_counted: usize,
    pub within_target: usize,
    /// (éditeur name, clients, clients whose form is live).
    pub editeurs: Vec<(String, i64, i64)>,
}

/// The dashboard as computed at one instant: token expiries per month and the figures.
#[derive(Debug)]
pub struct Snapshot {
    /// The Paris day the figures are for.
    pub today: NaiveDate,
    /// When they were computed (UTC).
    pub computed_at: chrono::NaiveDateTime,
    /// Monotonic instant of the computation, for the cache's age.
    pub computed: std::time::Instant,
    pub expiries: Vec<(String, i64)>,
    pub figures: Figures,
    /// The page's charts, drawn once per computation: drawing them took 42 % of a dashboard
    /// view's CPU at national scale.
    pub charts: Charts,
}

/// The dashboard's four charts, as SVG.
#[derive(Clone, Debug, Default)]
pub struct Charts {
    pub expiry: String,
    pub week: String,
    pub delay: String,
    pub editeur: String,
}

/// How long a computed dashboard is shown before it is computed again: the weekly figures
/// and the per-éditeur counts read every request (1.5 s at national scale), so a dashboard
/// view reads a copy at most this old (the page says when it was computed).
pub const CACHE_SECONDS: u64 = 60;

/// The last computed dashboard of one application (one per `AppState`); the lock is held
/// while computing, so concurrent views wait for one computation instead of each running it.
pub type Cache = std::sync::Arc<tokio::sync::Mutex<Option<std::sync::Arc<Snapshot>>>>;

/// Computes the figures as of `today` (Paris day).
pub fn figures(conn: &mut DbConnection, today: NaiveDate) -> QueryResult<Figures> {
    let first_monday = monday(today) - Duration::weeks(WEEKS - 1);
    let since = first_monday.and_hms_opt(0, 0, 0).unwrap_or_default() - Duration::days(1);
    let rows: Vec<RequestTimes> = habilitation_requests::table
        .filter(
            habilitation_requests::created_at
                .ge(since)
                .or(habilitation_requests::last_event_at.ge(since)),
        )
        .select((
            habilitation_requests::created_at,
            habilitation_requests::last_submitted_at,
            habilitation_requests::last_validated_at,
            habilitation_requests::state,
            habilitation_requests::last_event_at,
        ))
        .load(conn)?;
    let mut weeks: Vec<WeekRow> = (0..WEEKS)
        .map(|i| (first_monday + Duration::weeks(i), 0, 0))
        .collect();
    let mut durations = Vec::new();
    for (created, submitted, validated, state, last_event) in rows {
        let received = paris_date(submitted.unwrap_or(created));
        let decided = match state.parse::<RequestState>() {
            Ok(RequestState::Validated) => validated.or(last_event),
            Ok(RequestState::Refused) => last_event,
            _ => None,
        }
        .map(paris_date);
        if let Some(w) = weeks.iter_mut().find(|w| monday(received) == w.0) {
            w.1 += 1;
        }
        if let Some(decided) = decided {
            if let Some(w) = weeks.iter_mut().find(|w| monday(decided) == w.0) {
                w.2 += 1;
            }
            if decided >= first_monday && decided >= received {
                durations.push(business_days_between(received, decided));
            }
        }
    }
    durations.sort_unstable();
    // Clients per éditeur: by the request's éditeur, or by the éditeur's pre-filled form — the
    // union of two equality joins on indexed columns (an OR in one join made every request
    // evaluate a subquery per éditeur: 24 s at national scale), counted in SQL per éditeur
    // with those whose form is live: ~100 rows leave the database instead of every pair.
    use std::collections::HashMap;
    #[derive(diesel::QueryableByName)]
    struct EditeurClients {
        #[diesel(sql_type = diesel::sql_types::Text)]
        editeur_id: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        clients: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        live_clients: i64,
    }
    let rows: Vec<EditeurClients> = diesel::sql_query(format!(
        "SELECT pairs.editeur_id AS editeur_id, COUNT(*) AS clients, \
                COUNT(live.collectivite_id) AS live_clients \
         FROM ( \
             SELECT editeur_id, collectivite_id FROM habilitation_requests \
             WHERE editeur_id IS NOT NULL \
             UNION \
             SELECT editeur_forms.editeur_id, habilitation_requests.collectivite_id \
             FROM habilitation_requests \
             JOIN editeur_forms ON editeur_forms.form_uid = habilitation_requests.form_uid \
         ) AS pairs \
         LEFT JOIN ( \
             SELECT DISTINCT collectivite_id FROM form_activations \
             WHERE state = '{done}' AND live = TRUE \
         ) AS live ON live.collectivite_id = pairs.collectivite_id \
         GROUP BY pairs.editeur_id",
        done = crate::provisioning::DONE
    ))
    .load(conn)?;
    let names: HashMap<String, String> = editeurs::table
        .select((editeurs::id, editeurs::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let counts: HashMap<String, (i64, i64)> = rows
        .into_iter()
        .map(|r| (r.editeur_id, (r.clients, r.live_clients)))
        .collect();
    let mut per_editeur: Vec<(String, String, i64, i64)> = counts
        .into_iter()
        .filter_map(|(id, (n, a))| Some((id.clone(), names.get(&id)?.clone(), n, a)))
        .collect();
    per_editeur.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.1.cmp(&b.1)));
    Ok(Figures {
        weeks,
        decision_days_median: percentile(&durations, 50.0),
        decision_days_p90: percentile(&durations, 90.0),
        decisions_counted: durations.len(),
        within_target: durations
            .iter()
            .filter(|d| **d <= TARGET_BUSINESS_DAYS)
            .count(),
        editeurs: per_editeur
            .into_iter()
            .map(|(_, name, n, a)| (name, n, a))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn business_days_skip_weekends_and_holidays() {
        // Friday 2026-12-18 → Monday 21: 1 business day.
        assert_eq!(business_days_between(d(2026, 12, 18), d(2026, 12, 21)), 1);
        // Thursday 24 → Monday 28 December, Christmas in between: 1.
        assert_eq!(business_days_between(d(2026, 12, 24), d(2026, 12, 28)), 1);
        assert_eq!(business_days_between(d(2026, 12, 21), d(2026, 12, 21)), 0);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        assert_eq!(percentile(&v, 50.0), Some(5));
        assert_eq!(percentile(&v, 90.0), Some(9));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[4], 90.0), Some(4));
    }
}
