//! Collectivités: rows, search, filters and pagination, and what the detail page shows about
//! one (the rules of their identity fields are in `domain::collectivite`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::hubee::{HubeeSubscription, PROCESS_CODE};
use super::requests::HabilitationRequest;
use super::tokens::Token;
use crate::db::DbConnection;
use crate::db::schema::{
    collectivites, editeurs, habilitation_requests, hubee_subscriptions, tokens,
};
use crate::db::{Page, offset};
pub use crate::domain::collectivite::{
    KINDS, departement_from_cog, kind_from_siret, kind_label, parse_cog, parse_departement,
    parse_postal_code,
};

/// A collectivité (commune, CCAS, EPCI…), identified by its SIRET.
#[derive(Clone, Debug, Queryable, Selectable, Insertable, Identifiable, serde::Serialize)]
#[diesel(table_name = collectivites, treat_none_as_default_value = false)]
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
pub fn search(
    conn: &mut DbConnection,
    query: &str,
    page: i64,
    results: &crate::models::result_cache::ResultCache,
) -> QueryResult<Page<Collectivite>> {
    let filters = Filters {
        q: query.to_owned(),
        ..Filters::default()
    };
    list(conn, &filters, page, results)
}

/// What a collectivité list is narrowed to.
#[derive(Clone, Debug, Default)]
pub struct Filters {
    /// Free text: name, SIRET, postal code or commune code.
    pub q: String,
    /// Only this département.
    pub departement: Option<String>,
    /// Only active (`Some(true)`) or inactive (`Some(false)`) collectivités.
    pub active: Option<bool>,
}

/// Collectivités matching `filters`, by name, paginated.
pub fn list(
    conn: &mut DbConnection,
    filters: &Filters,
    page: i64,
    results: &crate::models::result_cache::ResultCache,
) -> QueryResult<Page<Collectivite>> {
    let filtered = || {
        let mut q = collectivites::table.into_boxed();
        if let Some(departement) = &filters.departement {
            q = q.filter(collectivites::departement.eq(departement.clone()));
        }
        if let Some(active) = filters.active {
            q = q.filter(collectivites::active.eq(active));
        }
        q
    };
    let order = (collectivites::name.asc(), collectivites::siret.asc());
    if let Some(text) = crate::search::parse(&filters.q) {
        // A search: the matches' ids by name, read once and kept until the data changes (see
        // `models::result_cache`), give the count and the page.
        let active = filters.active.map_or("", |a| if a { "1" } else { "0" });
        let departement = filters
            .departement
            .as_ref()
            .map_or(String::new(), |d| format!("={d}"));
        let key =
            crate::models::result_cache::key("collectivites", &[&filters.q, &departement, active]);
        let found = results.get_or_compute(conn, key, |conn| {
            let search = crate::search::target_in(
                conn,
                "collectivites.id",
                crate::search::Kind::Collectivite,
                &text,
            )?;
            let ids = filtered()
                .filter(search.clone())
                .order(order)
                .select(collectivites::id)
                .load(conn)?;
            Ok(crate::models::result_cache::Matches {
                ids,
                capped: search.capped,
            })
        })?;
        let total = found.total();
        let page = crate::db::clamp_page(page, total, PER_PAGE);
        let items = collectivites::table
            .filter(crate::db::condition::Condition::one_of(
                conn,
                "collectivites.id",
                crate::db::page_of(&found.ids, page, PER_PAGE),
            ))
            .order(order)
            .select(Collectivite::as_select())
            .load(conn)?;
        return Ok(Page::new(items, page.max(1), PER_PAGE, total).truncated(found.capped));
    }
    let total: i64 = if filters.departement.is_none() && filters.active.is_none() {
        // Kept by triggers (see `models::counters`): no count of every collectivité.
        super::counters::bucket(conn, super::counters::COLLECTIVITES, "")?
    } else {
        filtered().count().get_result(conn)?
    };
    // A page past the end shows the last page rather than nothing.
    let page = crate::db::clamp_page(page, total, PER_PAGE);
    let items = filtered()
        .order(order)
        .limit(PER_PAGE)
        .offset(offset(page, PER_PAGE))
        .select(Collectivite::as_select())
        .load(conn)?;
    Ok(Page::new(items, page.max(1), PER_PAGE, total))
}

/// Number of collectivités, from the counter kept by triggers.
pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
    super::counters::bucket(conn, super::counters::COLLECTIVITES, "")
}

/// The départements collectivités are in, sorted: the département counters kept by triggers
/// (see `models::counters`), a hundred rows, instead of a seek per département in the index.
pub fn departements(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    let mut codes: Vec<String> = super::counters::buckets(conn, super::counters::DEPARTEMENTS)?
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(code, _)| code)
        .collect();
    codes.sort();
    Ok(codes)
}

/// One collectivité by id.
pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Collectivite>> {
    collectivites::table
        .find(id)
        .select(Collectivite::as_select())
        .first(conn)
        .optional()
}

/// The collectivités with these SIRETs (any order).
pub fn find_by_sirets(
    conn: &mut DbConnection,
    sirets: &[String],
) -> QueryResult<Vec<Collectivite>> {
    collectivites::table
        .filter(collectivites::siret.eq_any(sirets))
        .select(Collectivite::as_select())
        .load(conn)
}

/// What is known of a collectivité met for the first time (staff entry, DataPass webhook or
/// reconciliation): its SIRET, its name and, when known, its commune and postal codes.
#[derive(Clone, Debug)]
pub struct NewCollectivite {
    pub siret: String,
    pub name: String,
    pub cog: Option<String>,
    pub postal_code: Option<String>,
}

/// The id of the collectivité with this SIRET, created from `new` when unknown (its
/// département derived from the commune code); the flag says whether it was created. The one
/// way a collectivité enters the back office from a request.
pub fn find_or_create(
    conn: &mut DbConnection,
    new: NewCollectivite,
    now: NaiveDateTime,
) -> QueryResult<(String, bool)> {
    let existing: Option<String> = collectivites::table
        .filter(collectivites::siret.eq(&new.siret))
        .select(collectivites::id)
        .first(conn)
        .optional()?;
    if let Some(id) = existing {
        return Ok((id, false));
    }
    let id = crate::db::new_id();
    insert(
        conn,
        &Collectivite {
            id: id.clone(),
            siret: new.siret,
            name: new.name,
            kind: "commune".into(),
            departement: new.cog.as_deref().map(departement_from_cog),
            cog: new.cog,
            postal_code: new.postal_code,
            active: true,
            had_hubee_account: false,
            created_at: now,
            updated_at: now,
        },
    )?;
    Ok((id, true))
}

/// Inserts a collectivité.
pub fn insert(conn: &mut DbConnection, collectivite: &Collectivite) -> QueryResult<()> {
    diesel::insert_into(collectivites::table)
        .values(collectivite)
        .execute(conn)?;
    Ok(())
}

/// The editable fields of a collectivité (everything but its id, SIRET and creation date).
#[derive(Clone, Debug, PartialEq, Eq, AsChangeset)]
#[diesel(table_name = collectivites, treat_none_as_null = true)]
pub struct CollectiviteChanges {
    pub name: String,
    pub kind: String,
    pub cog: Option<String>,
    pub postal_code: Option<String>,
    pub departement: Option<String>,
    pub active: bool,
    pub had_hubee_account: bool,
    pub updated_at: NaiveDateTime,
}

impl CollectiviteChanges {
    /// The current values of `collectivite`, to change some of them.
    pub fn from_row(collectivite: &Collectivite) -> CollectiviteChanges {
        CollectiviteChanges {
            name: collectivite.name.clone(),
            kind: collectivite.kind.clone(),
            cog: collectivite.cog.clone(),
            postal_code: collectivite.postal_code.clone(),
            departement: collectivite.departement.clone(),
            active: collectivite.active,
            had_hubee_account: collectivite.had_hubee_account,
            updated_at: collectivite.updated_at,
        }
    }

    /// What differs from `collectivite`, in French (`nom : « A » → « B »`), one item per field.
    pub fn describe_from(&self, collectivite: &Collectivite) -> Vec<String> {
        fn text(value: Option<&str>) -> String {
            value.map_or_else(|| "(vide)".to_owned(), |v| format!("« {v} »"))
        }
        fn yes_no(value: bool) -> &'static str {
            if value { "oui" } else { "non" }
        }
        let mut changes = Vec::new();
        if self.name != collectivite.name {
            changes.push(format!(
                "nom : « {} » → « {} »",
                collectivite.name, self.name
            ));
        }
        if self.kind != collectivite.kind {
            changes.push(format!(
                "type : {} → {}",
                kind_label(&collectivite.kind),
                kind_label(&self.kind)
            ));
        }
        let optional = [
            ("code commune", &collectivite.cog, &self.cog),
            ("code postal", &collectivite.postal_code, &self.postal_code),
            ("département", &collectivite.departement, &self.departement),
        ];
        for (label, before, after) in optional {
            if before != after {
                changes.push(format!(
                    "{label} : {} → {}",
                    text(before.as_deref()),
                    text(after.as_deref())
                ));
            }
        }
        if self.active != collectivite.active {
            changes.push(format!(
                "active : {} → {}",
                yes_no(collectivite.active),
                yes_no(self.active)
            ));
        }
        if self.had_hubee_account != collectivite.had_hubee_account {
            changes.push(format!(
                "compte HubEE préexistant : {} → {}",
                yes_no(collectivite.had_hubee_account),
                yes_no(self.had_hubee_account)
            ));
        }
        changes
    }
}

/// Writes the editable fields of a collectivité; returns the number of rows changed.
pub fn update(
    conn: &mut DbConnection,
    id: &str,
    changes: &CollectiviteChanges,
) -> QueryResult<usize> {
    diesel::update(collectivites::table.find(id))
        .set(changes)
        .execute(conn)
}

/// The habilitation requests of a collectivité with the name of their éditeur, newest first.
pub fn requests(
    conn: &mut DbConnection,
    id: &str,
) -> QueryResult<Vec<(HabilitationRequest, Option<String>)>> {
    habilitation_requests::table
        .left_join(editeurs::table)
        .filter(habilitation_requests::collectivite_id.eq(id))
        .order((
            habilitation_requests::created_at.desc(),
            habilitation_requests::id.asc(),
        ))
        .select((HabilitationRequest::as_select(), editeurs::name.nullable()))
        .load(conn)
}

/// The tokens of a collectivité, most recently issued first.
pub fn tokens(conn: &mut DbConnection, id: &str) -> QueryResult<Vec<Token>> {
    tokens::table
        .filter(tokens::collectivite_id.eq(id))
        .order((tokens::issued_at.desc(), tokens::id.asc()))
        .select(Token::as_select())
        .load(conn)
}

/// The collectivité's HubEE subscription to the QF procedure, if any.
pub fn subscription(conn: &mut DbConnection, id: &str) -> QueryResult<Option<HubeeSubscription>> {
    hubee_subscriptions::table
        .filter(hubee_subscriptions::collectivite_id.eq(id))
        .filter(hubee_subscriptions::process_code.eq(PROCESS_CODE))
        .select(HubeeSubscription::as_select())
        .first(conn)
        .optional()
}
