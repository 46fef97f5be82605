//! Reusable reasons for refusing a request or asking for changes.

use diesel::prelude::*;

use crate::db::schema::reason_templates;

/// A reusable reason.
#[derive(Clone, Debug, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = reason_templates, treat_none_as_default_value = false)]
pub struct ReasonTemplate {
    pub id: String,
    /// `refuse` or `request_changes`.
    pub kind: String,
    pub title: String,
    pub body: String,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

/// Every reason template, by kind then title.
pub fn list_templates(conn: &mut crate::db::DbConnection) -> QueryResult<Vec<ReasonTemplate>> {
    reason_templates::table
        .order((reason_templates::kind.asc(), reason_templates::title.asc()))
        .select(ReasonTemplate::as_select())
        .load(conn)
}
