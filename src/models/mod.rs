//! Rows of the domain tables and the queries over them. Everything here runs inside
//! `AppState::db` (a blocking thread), never on an actix worker.

pub mod access;
pub mod accounts;
pub mod api_keys;
pub mod collectivites;
pub mod counters;
pub mod dashboard;
pub mod datapass;
pub mod editeur_clients;
pub mod editeurs;
pub mod events;
pub mod hubee;
pub mod reason_templates;
pub mod requests;
pub mod search;
pub mod tokens;

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
