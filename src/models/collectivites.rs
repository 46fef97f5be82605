//! Collectivités: rows, search and pagination.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{Page, contains_pattern, offset};
use crate::db::schema::collectivites;
use crate::db::{DbConnection, lower};

/// A collectivité (commune, CCAS, EPCI…), identified by its SIRET.
#[derive(Clone, Debug, Queryable, Selectable, Insertable, Identifiable, serde::Serialize)]
#[diesel(table_name = collectivites)]
pub struct Collectivite {
    pub id: String,
    pub siret: String,
    pub name: String,
    pub kind: String,
    pub cog: Option<String>,
    pub postal_code: Option<String>,
    pub departement: Option<String>,
    pub active: bool,
    pub had_hubee_account: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Rows per page in collectivité lists.
pub const PER_PAGE: i64 = 20;

/// Collectivités whose name, SIRET, postal code or commune code contains `query`, by name.
pub fn search(conn: &mut DbConnection, query: &str, page: i64) -> QueryResult<Page<Collectivite>> {
    let filtered = || {
        let mut q = collectivites::table.into_boxed();
        let query = query.trim();
        if !query.is_empty() {
            let pattern = contains_pattern(query);
            let compact = contains_pattern(&query.replace(' ', ""));
            q = q.filter(
                lower(collectivites::name)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(collectivites::siret.like(compact).escape('\\'))
                    .or(collectivites::postal_code
                        .like(pattern.clone())
                        .escape('\\'))
                    .or(collectivites::cog.like(pattern).escape('\\')),
            );
        }
        q
    };
    let total: i64 = filtered().count().get_result(conn)?;
    // A page past the end shows the last page rather than nothing.
    let last_page = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    let page = page.clamp(1, last_page);
    let items = filtered()
        .order((collectivites::name.asc(), collectivites::siret.asc()))
        .limit(PER_PAGE)
        .offset(offset(page, PER_PAGE))
        .select(Collectivite::as_select())
        .load(conn)?;
    Ok(Page::new(items, page.max(1), PER_PAGE, total))
}

/// Number of collectivités.
pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
    collectivites::table.count().get_result(conn)
}
