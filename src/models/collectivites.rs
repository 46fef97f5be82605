//! Collectivités: rows, search, filters and pagination, the rules of their identity fields
//! (kind, COG, postal code, département), and what the detail page shows about one.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::hubee::{HubeeSubscription, PROCESS_CODE};
use super::requests::HabilitationRequest;
use super::tokens::Token;
use super::{Page, offset};
use crate::db::DbConnection;
use crate::db::schema::{
    collectivites, editeurs, habilitation_requests, hubee_subscriptions, request_contacts, tokens,
};

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
    let filters = Filters {
        q: query.to_owned(),
        ..Filters::default()
    };
    list(conn, &filters, page)
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
) -> QueryResult<Page<Collectivite>> {
    let search = crate::search::parse(&filters.q).map(|text| {
        crate::search::target_in(
            conn,
            "collectivites.id",
            crate::search::Kind::Collectivite,
            &text,
        )
    });
    let filtered = || {
        let mut q = collectivites::table.into_boxed();
        if let Some(departement) = &filters.departement {
            q = q.filter(collectivites::departement.eq(departement.clone()));
        }
        if let Some(active) = filters.active {
            q = q.filter(collectivites::active.eq(active));
        }
        if let Some(search) = &search {
            q = q.filter(search.clone());
        }
        q
    };
    let unfiltered =
        filters.departement.is_none() && filters.active.is_none() && filters.q.trim().is_empty();
    let total: i64 = if unfiltered {
        // Kept by triggers (see `models::counters`): no count of every collectivité.
        super::counters::bucket(conn, super::counters::COLLECTIVITES, "")?
    } else {
        filtered().count().get_result(conn)?
    };
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

/// Number of collectivités, from the counter kept by triggers.
pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
    super::counters::bucket(conn, super::counters::COLLECTIVITES, "")
}

/// The départements collectivités are in, sorted. A skip scan of the département index (one
/// index seek per département, ~100) rather than a `DISTINCT` over every collectivité.
pub fn departements(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    #[derive(diesel::QueryableByName)]
    struct Departement {
        #[diesel(sql_type = diesel::sql_types::Text)]
        code: String,
    }
    let rows: Vec<Departement> = diesel::sql_query(
        "WITH RECURSIVE d (code) AS ( \
             SELECT min(departement) FROM collectivites \
             UNION ALL \
             SELECT (SELECT min(departement) FROM collectivites WHERE departement > d.code) \
             FROM d WHERE d.code IS NOT NULL \
         ) \
         SELECT code FROM d WHERE code IS NOT NULL",
    )
    .load(conn)?;
    let mut codes: Vec<String> = rows.into_iter().map(|row| row.code).collect();
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

/// Whether `identity` may get the collectivité's kit de communication and éditeur URLs:
/// staff, its contacts (an address on one of its requests) and its éditeurs (an éditeur
/// named on one of its requests).
pub fn kit_visible_to(
    conn: &mut DbConnection,
    identity: &crate::auth::Identity,
    collectivite_id: &str,
) -> QueryResult<bool> {
    if identity.is_staff {
        return Ok(true);
    }
    if !identity.editeur_ids.is_empty() {
        let editeur_requests: i64 = habilitation_requests::table
            .filter(habilitation_requests::collectivite_id.eq(collectivite_id))
            .filter(habilitation_requests::editeur_id.eq_any(&identity.editeur_ids))
            .count()
            .get_result(conn)?;
        if editeur_requests > 0 {
            return Ok(true);
        }
    }
    let contact_requests: i64 = request_contacts::table
        .inner_join(habilitation_requests::table)
        .filter(habilitation_requests::collectivite_id.eq(collectivite_id))
        .filter(request_contacts::email.eq(&identity.email))
        .count()
        .get_result(conn)?;
    Ok(contact_requests > 0)
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

/// The kinds of collectivités: (code, French label).
pub const KINDS: [(&str, &str); 4] = [
    ("commune", "Commune"),
    ("ccas", "CCAS (centre communal d'action sociale)"),
    ("epci", "EPCI (intercommunalité)"),
    ("autre", "Autre"),
];

/// The French label of a kind code.
pub fn kind_label(code: &str) -> &'static str {
    KINDS
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("Autre", |(_, label)| label)
}

/// The likely kind of a collectivité from its SIREN: communes start with 21, CCAS with 26,
/// intercommunalités with 20 or 24; anything else is `autre`.
pub fn kind_from_siret(siret: &str) -> &'static str {
    match siret.get(..2) {
        Some("21") => "commune",
        Some("26") => "ccas",
        Some("20" | "24") => "epci",
        _ => "autre",
    }
}

/// Checks and normalizes a commune code (COG): 5 characters, digits, or `2A`/`2B` (Corse)
/// followed by 3 digits. Lower-case `2a`/`2b` are accepted; surrounding spaces ignored.
pub fn parse_cog(input: &str) -> Option<String> {
    let cog = input.trim().to_ascii_uppercase();
    let bytes = cog.as_bytes();
    if bytes.len() != 5 {
        return None;
    }
    let corse = bytes.starts_with(b"2A") || bytes.starts_with(b"2B");
    let digits_from = if corse { 2 } else { 0 };
    bytes[digits_from..]
        .iter()
        .all(u8::is_ascii_digit)
        .then_some(cog)
}

/// Checks a postal code: exactly 5 digits (surrounding spaces ignored).
pub fn parse_postal_code(input: &str) -> Option<String> {
    let code = input.trim();
    (code.len() == 5 && code.bytes().all(|b| b.is_ascii_digit())).then(|| code.to_owned())
}

/// The département of a (valid) commune code: its first 2 characters, or 3 overseas (97x).
pub fn departement_from_cog(cog: &str) -> String {
    let length = if cog.starts_with("97") { 3 } else { 2 };
    cog.get(..length).unwrap_or(cog).to_owned()
}

/// Checks and normalizes a département code: 2 digits, `2A`/`2B`, or 3 digits overseas (97x).
pub fn parse_departement(input: &str) -> Option<String> {
    let code = input.trim().to_ascii_uppercase();
    let valid = match code.len() {
        2 => code.bytes().all(|b| b.is_ascii_digit()) || code == "2A" || code == "2B",
        3 => code.starts_with("97") && code.bytes().all(|b| b.is_ascii_digit()),
        _ => false,
    };
    valid.then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commune_codes() {
        assert_eq!(parse_cog(" 26079 "), Some("26079".to_owned()));
        assert_eq!(parse_cog("2a004"), Some("2A004".to_owned()));
        assert_eq!(parse_cog("2B033"), Some("2B033".to_owned()));
        assert_eq!(parse_cog("97411"), Some("97411".to_owned()));
        for bad in ["", "2607", "260790", "2C004", "2A0B4", "ABCDE", "26 79"] {
            assert_eq!(parse_cog(bad), None, "{bad}");
        }
        assert_eq!(departement_from_cog("26079"), "26");
        assert_eq!(departement_from_cog("2A004"), "2A");
        assert_eq!(departement_from_cog("97411"), "974");
        assert_eq!(departement_from_cog("01053"), "01");
    }

    #[test]
    fn postal_codes_and_departements() {
        assert_eq!(parse_postal_code(" 26410"), Some("26410".to_owned()));
        for bad in ["", "2641", "264100", "2641A", "26 41"] {
            assert_eq!(parse_postal_code(bad), None, "{bad}");
        }
        for (input, expected) in [("26", "26"), ("2a", "2A"), ("974", "974"), (" 01 ", "01")] {
            assert_eq!(parse_departement(input), Some(expected.to_owned()));
        }
        for bad in ["", "2", "2C", "123", "9740", "AB"] {
            assert_eq!(parse_departement(bad), None, "{bad}");
        }
    }

    #[test]
    fn kinds() {
        assert_eq!(kind_from_siret("21260790000013"), "commune");
        assert_eq!(kind_from_siret("26590000000000"), "ccas");
        assert_eq!(kind_from_siret("20004000000000"), "epci");
        assert_eq!(kind_from_siret("24350000000000"), "epci");
        assert_eq!(kind_from_siret("41234567800010"), "autre");
        assert_eq!(
            kind_label("ccas"),
            "CCAS (centre communal d'action sociale)"
        );
        assert_eq!(kind_label("inconnu"), "Autre");
    }
}
