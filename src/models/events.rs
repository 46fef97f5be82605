//! The event log: who did what, when, to what.

use chrono::NaiveDateTime;

use crate::domain::calendar::paris_day_start;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::events;

/// One entry of the event log.
#[derive(Clone, Debug, Queryable, Selectable, Insertable, Identifiable, serde::Serialize)]
#[diesel(table_name = events, treat_none_as_default_value = false)]
pub struct Event {
    pub id: String,
    pub occurred_at: NaiveDateTime,
    /// An e-mail address, or `system` / `datapass` for automatic actions.
    pub actor: String,
    /// What happened, e.g. `request.approve`, `token.issue`.
    pub action: String,
    /// The kind of object acted on, e.g. `request`, `token`, `collectivite`.
    pub target_type: String,
    pub target_id: String,
    /// Free text or JSON with the specifics.
    pub details: Option<String>,
}

/// Records an event.
pub fn record(
    conn: &mut DbConnection,
    occurred_at: NaiveDateTime,
    actor: &str,
    action: &str,
    target: (&str, &str),
    details: Option<String>,
) -> QueryResult<()> {
    record_with_id(
        conn,
        crate::db::new_id(),
        occurred_at,
        actor,
        action,
        target,
        details,
    )
}

/// Records an event under a given id (deterministic data sets).
pub fn record_with_id(
    conn: &mut DbConnection,
    id: String,
    occurred_at: NaiveDateTime,
    actor: &str,
    action: &str,
    target: (&str, &str),
    details: Option<String>,
) -> QueryResult<()> {
    diesel::insert_into(events::table)
        .values(Event {
            id,
            occurred_at,
            actor: actor.to_owned(),
            action: action.to_owned(),
            target_type: target.0.to_owned(),
            target_id: target.1.to_owned(),
            details,
        })
        .execute(conn)?;
    Ok(())
}

/// The events about one object, oldest first.
pub fn for_target(
    conn: &mut DbConnection,
    target_type: &str,
    target_id: &str,
) -> QueryResult<Vec<Event>> {
    events::table
        .filter(events::target_type.eq(target_type))
        .filter(events::target_id.eq(target_id))
        .order((events::occurred_at.asc(), events::id.asc()))
        .select(Event::as_select())
        .load(conn)
}

/// Rows per page of the event log.
pub const PER_PAGE: i64 = 50;

/// Filters of the event log: who, what, target, and a range of days (Europe/Paris, inclusive).
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    /// The actor's address (or `cli`, `datapass`…) contains this.
    pub actor: String,
    /// The action starts with this (`view_as.` matches every `view_as.*`).
    pub action: String,
    /// The target's type or id contains this.
    pub target: String,
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
}

/// The event log, newest first, searched by actor, action or target.
pub fn list(
    conn: &mut DbConnection,
    query: &str,
    page: i64,
) -> QueryResult<crate::db::Page<Event>> {
    list_filtered(conn, query, &EventFilter::default(), page)
}

/// The event log, newest first, searched by `query` and narrowed by `filter`.
pub fn list_filtered(
    conn: &mut DbConnection,
    query: &str,
    filter: &EventFilter,
    page: i64,
) -> QueryResult<crate::db::Page<Event>> {
    let filtered = || {
        let mut q = events::table.into_boxed();
        if !filter.actor.trim().is_empty() {
            q = q.filter(
                crate::db::lower(events::actor)
                    .like(crate::db::contains_pattern(&filter.actor))
                    .escape('\\'),
            );
        }
        if !filter.action.trim().is_empty() {
            let pattern = crate::db::contains_pattern(&filter.action);
            q = q.filter(events::action.like(pattern[1..].to_owned()).escape('\\'));
        }
        if !filter.target.trim().is_empty() {
            let pattern = crate::db::contains_pattern(&filter.target);
            q = q.filter(
                crate::db::lower(events::target_id)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(events::target_type.like(pattern).escape('\\')),
            );
        }
        if let Some(from) = filter.from.map(paris_day_start) {
            q = q.filter(events::occurred_at.ge(from));
        }
        if let Some(to) = filter.to.and_then(|d| d.succ_opt()).map(paris_day_start) {
            q = q.filter(events::occurred_at.lt(to));
        }
        if !query.trim().is_empty() {
            let pattern = crate::db::contains_pattern(query);
            q = q.filter(
                crate::db::lower(events::actor)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(crate::db::lower(events::action)
                        .like(pattern.clone())
                        .escape('\\'))
                    .or(crate::db::lower(events::target_id)
                        .like(pattern)
                        .escape('\\')),
            );
        }
        q
    };
    let total: i64 = filtered().count().get_result(conn)?;
    let page = crate::db::clamp_page(page, total, PER_PAGE);
    let items = filtered()
        .order((events::occurred_at.desc(), events::id.desc()))
        .limit(PER_PAGE)
        .offset(crate::db::offset(page, PER_PAGE))
        .select(Event::as_select())
        .load(conn)?;
    Ok(crate::db::Page::new(items, page, PER_PAGE, total))
}
