//! The staff instruction queue: requests awaiting a decision, modification requests first,
//! then by deadline (3 business days after the last submission).

use chrono::{Days, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::condition::Condition;
use crate::db::schema::{collectivites, editeurs, habilitation_requests};
use crate::db::{Page, offset};
use crate::domain::calendar::{DeadlineStatus, deadline_status, instruction_deadline};
use crate::domain::request_state::RequestState;
use crate::models::result_cache;

/// The state asked for by the queue's `etat` filter, when it is one of the pending states.
fn pending_state(etat: &str) -> Option<RequestState> {
    etat.parse::<RequestState>()
        .ok()
        .filter(|s| matches!(s, RequestState::Submitted | RequestState::ChangesRequested))
}

/// Rows per page of the queue.
pub const PER_PAGE: i64 = 25;

/// The queue's filters and search.
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct QueueFilter {
    /// `submitted` or `changes_requested`; empty for both.
    #[serde(default)]
    pub etat: String,
    /// An éditeur id; `aucun` for requests without éditeur.
    #[serde(default)]
    pub editeur: String,
    /// A département code.
    #[serde(default)]
    pub departement: String,
    /// Only overdue requests.
    #[serde(default)]
    pub en_retard: Option<String>,
    /// D-number, SIRET, collectivité name or contact e-mail.
    #[serde(default)]
    pub q: String,
}

/// One line of the queue.
#[derive(Clone, Debug, serde::Serialize)]
pub struct QueueItem {
    pub id: String,
    pub datapass_id: Option<i64>,
    pub state: String,
    pub state_label: &'static str,
    pub reopening: bool,
    pub collectivite_name: String,
    pub siret: String,
    pub departement: Option<String>,
    pub editeur_name: Option<String>,
    pub submitted_at: Option<NaiveDateTime>,
    pub deadline: Option<NaiveDate>,
    pub deadline_status: &'static str,
    pub deadline_label: &'static str,
}

/// A queue row as loaded: request id, D-number, state, reopening, last submission,
/// collectivité name, SIRET, département, éditeur name.
type QueueRow = (
    String,
    Option<i64>,
    String,
    bool,
    Option<NaiveDateTime>,
    String,
    String,
    Option<String>,
    Option<String>,
);

/// The last submission day whose deadline is already past on `today`.
fn last_overdue_submission_day(today: NaiveDate) -> NaiveDate {
    let mut day = today;
    // Deadlines are at most a couple of weeks after submission (3 business days + holidays).
    for _ in 0..30 {
        if instruction_deadline(day) < today {
            return day;
        }
        day = day.pred_opt().unwrap_or(day);
    }
    day
}

/// Requests submitted before this instant are overdue on `today`.
fn overdue_limit(today: NaiveDate) -> NaiveDateTime {
    last_overdue_submission_day(today)
        .checked_add_days(Days::new(1))
        .unwrap_or(today)
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
}

/// The DataPass number a search text names (`D1234` or `1234`), or -1 (no request has it).
fn datapass_number(q: &str) -> i64 {
    q.trim()
        .trim_start_matches(['D', 'd'])
        .parse::<i64>()
        .unwrap_or(-1)
}

/// The queue's order: modifications of validated habilitations first, then the oldest
/// submission (the order of `habilitation_requests_queue_idx`), the id last for a stable page.
fn queue_order() -> (
    diesel::helper_types::Desc<habilitation_requests::reopening>,
    diesel::helper_types::Asc<habilitation_requests::last_submitted_at>,
    diesel::helper_types::Asc<habilitation_requests::created_at>,
    diesel::helper_types::Asc<habilitation_requests::id>,
) {
    (
        habilitation_requests::reopening.desc(),
        habilitation_requests::last_submitted_at.asc(),
        habilitation_requests::created_at.asc(),
        habilitation_requests::id.asc(),
    )
}

/// The queue on `today`, filtered, searched and paginated.
pub fn list(
    conn: &mut DbConnection,
    filter: &QueueFilter,
    today: NaiveDate,
    page: i64,
    results: &result_cache::ResultCache,
) -> QueryResult<Page<QueueItem>> {
    // The pending states are written as literal SQL (not bound parameters) so that both
    // backends match the partial index `habilitation_requests_queue_idx`, whose order is the
    // queue's: the first page reads 30 index entries instead of sorting the queue. On SQLite
    // the term (and the index's) is `+state`, which keeps the planner from preferring the
    // plain state index and a sort of every pending request.
    let pending_states = format!(
        "habilitation_requests.state IN ('{}', '{}')",
        RequestState::Submitted.as_str(),
        RequestState::ChangesRequested.as_str()
    );
    let pending = match conn {
        DbConnection::Sqlite(_) => format!("+{pending_states}"),
        DbConnection::Postgresql(_) => pending_states,
    };
    let text = crate::search::parse(&filter.q);
    let departement = filter.departement.trim();
    let joined = || {
        habilitation_requests::table
            .inner_join(collectivites::table)
            .left_join(editeurs::table)
            .into_boxed()
    };
    let filtered = || {
        let mut q = joined();
        q = q.filter(Condition::new(pending.clone()));
        if let Some(state) = pending_state(&filter.etat) {
            q = q.filter(habilitation_requests::state.eq(state));
        }
        match filter.editeur.as_str() {
            "" => {}
            "aucun" => q = q.filter(habilitation_requests::editeur_id.is_null()),
            id => q = q.filter(habilitation_requests::editeur_id.eq(id.to_owned())),
        }
        if !departement.is_empty() {
            q = q.filter(collectivites::departement.eq(departement.to_owned()));
        }
        if filter.en_retard.is_some() {
            q = q.filter(habilitation_requests::last_submitted_at.lt(overdue_limit(today)));
        }
        q
    };
    // Counted on the requests alone unless a filter reads the collectivité: every request
    // has its collectivité and the éditeur join is a left join, so the count is the same
    // without visiting one collectivité per pending request.
    // The filters on the request's own columns (every filter but the département's).
    let only_requests = || {
        let mut q = habilitation_requests::table
            .filter(Condition::new(pending.clone()))
            .into_boxed();
        if let Some(state) = pending_state(&filter.etat) {
            q = q.filter(habilitation_requests::state.eq(state));
        }
        match filter.editeur.as_str() {
            "" => {}
            "aucun" => q = q.filter(habilitation_requests::editeur_id.is_null()),
            id => q = q.filter(habilitation_requests::editeur_id.eq(id.to_owned())),
        }
        if filter.en_retard.is_some() {
            q = q.filter(habilitation_requests::last_submitted_at.lt(overdue_limit(today)));
        }
        q
    };
    let only_state = departement.is_empty()
        && filter.q.trim().is_empty()
        && filter.editeur.is_empty()
        && filter.en_retard.is_none();
    let mut matches: Option<std::sync::Arc<result_cache::Matches>> = None;
    let mut capped = false;
    let total: i64 = if only_state {
        // The per-state counters kept by triggers (see `models::counters`).
        let states: Vec<&str> = match pending_state(&filter.etat) {
            Some(state) => vec![state.as_str()],
            None => vec![
                RequestState::Submitted.as_str(),
                RequestState::ChangesRequested.as_str(),
            ],
        };
        crate::models::counters::buckets(conn, crate::models::counters::REQUESTS)?
            .iter()
            .filter(|(state, _)| states.contains(&state.as_str()))
            .map(|(_, n)| n)
            .sum()
    } else {
        // The search too reads the request's own columns (collectivité id, id, number); a
        // département is one more condition on the collectivité id.
        match &text {
            Some(text) => {
                // One read of the matches' ids in the queue's order (at most a few thousand,
                // see `search::LIST_CAP`) gives the count and the page, kept until the data
                // changes (see `models::result_cache`): paging through a search or coming back
                // to it reads no match again.
                let overdue = if filter.en_retard.is_some() {
                    today.to_string()
                } else {
                    String::new()
                };
                let key = result_cache::key(
                    "queue",
                    &[
                        &filter.q,
                        &filter.etat,
                        &filter.editeur,
                        &overdue,
                        departement,
                    ],
                );
                let found = results.get_or_compute(conn, key, |conn| {
                    // Each kind of match is read on its own, then the candidates once in the
                    // queue's order: every read goes through a partial index of the pending
                    // requests (migration `…000035`). One query OR-ing the kinds read the row
                    // of every request of every matching collectivité, pending or not: 9 ms
                    // for a name in 600 collectivités, 1 ms this way.
                    let collectivites =
                        crate::search::targets(conn, crate::search::Kind::Collectivite, text)?;
                    let contacts =
                        crate::search::targets(conn, crate::search::Kind::Contact, text)?;
                    // A contact's document points to its request.
                    let mut candidates = contacts.ids;
                    if !collectivites.ids.is_empty() {
                        candidates.extend(
                            only_requests()
                                .filter(Condition::one_of(
                                    conn,
                                    "habilitation_requests.collectivite_id",
                                    &collectivites.ids,
                                ))
                                .select(habilitation_requests::id)
                                .load::<String>(conn)?,
                        );
                    }
                    let number = datapass_number(&filter.q);
                    if number >= 0 {
                        candidates.extend(
                            only_requests()
                                .filter(habilitation_requests::datapass_id.eq(number))
                                .select(habilitation_requests::id)
                                .load::<String>(conn)?,
                        );
                    }
                    candidates.sort_unstable();
                    candidates.dedup();
                    // Every filter again (the contacts' requests have not been through them),
                    // and the queue's order.
                    let ids = if candidates.is_empty() {
                        Vec::new()
                    } else {
                        let mut q = only_requests().filter(Condition::one_of(
                            conn,
                            "habilitation_requests.id",
                            &candidates,
                        ));
                        if !departement.is_empty() {
                            q = q.filter(Condition::with_value(
                                "habilitation_requests.collectivite_id IN \
                                 (SELECT id FROM collectivites WHERE departement = ",
                                departement.to_owned(),
                                ")",
                            ));
                        }
                        q.order(queue_order())
                            .select(habilitation_requests::id)
                            .load(conn)?
                    };
                    Ok(result_cache::Matches {
                        ids,
                        capped: collectivites.capped || contacts.capped,
                    })
                })?;
                capped = found.capped;
                matches = Some(found);
                matches.as_ref().map_or(0, |m| m.total())
            }
            None if departement.is_empty() => only_requests().count().get_result(conn)?,
            None => filtered().count().get_result(conn)?,
        }
    };
    let page = crate::db::clamp_page(page, total, PER_PAGE);
    let rows_query = match matches {
        // The page's ids already passed every filter: only they are joined.
        Some(found) => joined().filter(Condition::one_of(
            conn,
            "habilitation_requests.id",
            crate::db::page_of(&found.ids, page, PER_PAGE),
        )),
        // Without a département or a search, the page's ids are read from the requests alone
        // (index entries skipped, not joined rows: the last page reads as fast as the first),
        // then only they are joined.
        None if departement.is_empty() && text.is_none() => {
            let ids: Vec<String> = only_requests()
                .order(queue_order())
                .select(habilitation_requests::id)
                .limit(PER_PAGE)
                .offset(offset(page, PER_PAGE))
                .load(conn)?;
            joined().filter(Condition::one_of(conn, "habilitation_requests.id", &ids))
        }
        None => filtered().limit(PER_PAGE).offset(offset(page, PER_PAGE)),
    };
    let rows: Vec<QueueRow> = rows_query
        .order(queue_order())
        .select((
            habilitation_requests::id,
            habilitation_requests::datapass_id,
            habilitation_requests::state,
            habilitation_requests::reopening,
            habilitation_requests::last_submitted_at,
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
                datapass_id,
                state,
                reopening,
                submitted_at,
                name,
                siret,
                departement,
                editeur,
            )| {
                let deadline = submitted_at
                    .map(|s| instruction_deadline(crate::domain::calendar::paris_date(s)));
                let status = deadline.map(|d| deadline_status(d, today));
                QueueItem {
                    id,
                    datapass_id,
                    state_label: state
                        .parse::<RequestState>()
                        .map_or("Inconnu", RequestState::label_fr),
                    state,
                    reopening,
                    collectivite_name: name,
                    siret,
                    departement,
                    editeur_name: editeur,
                    submitted_at,
                    deadline,
                    deadline_status: status.map_or("on_time", DeadlineStatus::as_str),
                    deadline_label: status.map_or("—", DeadlineStatus::label_fr),
                }
            },
        )
        .collect();
    Ok(Page::new(items, page, PER_PAGE, total).truncated(capped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overdue_threshold_matches_the_deadline_rule() {
        // Monday 23 Nov 2026: a request submitted Wednesday 18 (deadline Monday 23) is due
        // today, one submitted Tuesday 17 (deadline Friday 20) is overdue.
        let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let day = last_overdue_submission_day(today);
        assert!(instruction_deadline(day) < today);
        assert!(instruction_deadline(day.succ_opt().unwrap()) >= today);
        assert_eq!(day, NaiveDate::from_ymd_opt(2026, 11, 17).unwrap());
    }
}
