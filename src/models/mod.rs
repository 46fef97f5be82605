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
pub mod result_cache;
pub mod search;
pub mod tokens;

/// The choices of list filters: (id, name) of every éditeur, and département codes.
pub type FilterChoices = (Vec<(String, String)>, Vec<String>);

/// The filter choices last read by one application (one per `AppState`), with the version
/// they were read at (see [`filter_choices`]).
pub type ChoicesCache = std::sync::Arc<std::sync::Mutex<Option<(i64, FilterChoices)>>>;

/// The choices of the éditeur and département filters: (id, name) of every éditeur by name,
/// and every département code in use, sorted. Triggers bump a version (`row_counts`,
/// `versions`/`filter_choices`, migration `…000030`) with every change of the éditeurs or of
/// the collectivités' départements: a view reads that one row and reads the choices again only
/// when it moved. A change committed between the two reads tags newer choices with the older
/// version, which the next view reads again: never stale.
pub fn filter_choices(
    conn: &mut crate::db::DbConnection,
    cache: &ChoicesCache,
) -> diesel::QueryResult<FilterChoices> {
    use crate::db::schema::editeurs;
    use diesel::prelude::*;
    let version = counters::bucket(conn, counters::VERSIONS, counters::FILTER_CHOICES)?;
    if let Ok(cached) = cache.lock()
        && let Some((at, choices)) = cached.as_ref()
        && *at == version
    {
        return Ok(choices.clone());
    }
    let editeur_choices: Vec<(String, String)> = editeurs::table
        .order(editeurs::name.asc())
        .select((editeurs::id, editeurs::name))
        .load(conn)?;
    let departements = crate::models::collectivites::departements(conn)?;
    let choices = (editeur_choices, departements);
    if let Ok(mut cached) = cache.lock() {
        *cached = Some((version, choices.clone()));
    }
    Ok(choices)
}
