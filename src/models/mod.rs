//! Rows of the domain tables and the queries over them. Everything here runs inside
//! `AppState::db` (a blocking thread), never on an actix worker.

pub mod accounts;
pub mod api_keys;
pub mod collectivites;
pub mod counters;
pub mod dashboard;
pub mod editeur_clients;
pub mod editeurs;
pub mod events;
pub mod hubee;
pub mod requests;
pub mod search;
pub mod tokens;

use chrono::{NaiveDateTime, SubsecRound, Utc};

/// The current UTC time at the precision both backends store (microseconds).
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// A new text UUID for a row id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A `LIKE` pattern matching `text` anywhere, with `%`, `_` and `\` escaped (use with `ESCAPE '\'`).
pub fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// One page of a longer list.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// 1-based page number.
    pub page: i64,
    /// Rows per page.
    pub per_page: i64,
    /// Rows in the whole list.
    pub total: i64,
    /// Number of pages (at least 1).
    pub pages: i64,
}

impl<T> Page<T> {
    /// Builds a page; `page` is clamped to at least 1.
    pub fn new(items: Vec<T>, page: i64, per_page: i64, total: i64) -> Page<T> {
        let pages = ((total + per_page - 1) / per_page).max(1);
        Page {
            items,
            page,
            per_page,
            total,
            pages,
        }
    }
}

/// The choices of list filters: (id, name) of every éditeur, and département codes.
pub type FilterChoices = (Vec<(String, String)>, Vec<String>);

/// The choices of the éditeur and département filters: (id, name) of every éditeur by name,
/// and every département code in use, sorted.
pub fn filter_choices(conn: &mut crate::db::DbConnection) -> diesel::QueryResult<FilterChoices> {
    use crate::db::schema::editeurs;
    use diesel::prelude::*;
    let editeur_choices: Vec<(String, String)> = editeurs::table
        .order(editeurs::name.asc())
        .select((editeurs::id, editeurs::name))
        .load(conn)?;
    let departements = crate::models::collectivites::departements(conn)?;
    Ok((editeur_choices, departements))
}

/// Offset of a 1-based page.
pub fn offset(page: i64, per_page: i64) -> i64 {
    (page.max(1) - 1) * per_page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(contains_pattern(" Saint_%X "), "%saint\\_\\%x%");
    }

    #[test]
    fn page_count_rounds_up() {
        assert_eq!(Page::<()>::new(vec![], 1, 20, 0).pages, 1);
        assert_eq!(Page::<()>::new(vec![], 1, 20, 20).pages, 1);
        assert_eq!(Page::<()>::new(vec![], 1, 20, 21).pages, 2);
        assert_eq!(offset(3, 20), 40);
        assert_eq!(offset(0, 20), 0);
    }
}
