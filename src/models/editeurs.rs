//! Éditeurs (software vendors), their pre-filled DataPass forms, their members and their
//! clients (the collectivités whose requests went through their forms).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::accounts::EditeurMember;
use crate::db::schema::{
    collectivites, editeur_forms, editeur_members, editeurs, habilitation_requests,
};
use crate::db::{DbConnection, contains_pattern, lower};
use crate::domain::request_state::RequestState;

/// A software vendor whose clients are collectivités.
#[derive(Clone, Debug, Queryable, Selectable, Insertable, Identifiable, serde::Serialize)]
#[diesel(table_name = editeurs, treat_none_as_default_value = false)]
pub struct Editeur {
    pub id: String,
    pub name: String,
    pub siret: String,
    pub contact_technique_email: String,
    /// Comma-separated API Particulier APIs the software integrates.
    pub apis: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A pre-filled DataPass form handed by an éditeur to its clients.
#[derive(Clone, Debug, Queryable, Selectable, Insertable, Identifiable, serde::Serialize)]
#[diesel(table_name = editeur_forms, treat_none_as_default_value = false)]
pub struct EditeurForm {
    pub id: String,
    pub editeur_id: String,
    pub form_uid: String,
    pub name: String,
    pub public_url: String,
    pub created_at: NaiveDateTime,
}

/// A line of the éditeur list: the éditeur, its number of forms and of client requests.
#[derive(Clone, Debug, serde::Serialize)]
pub struct EditeurSummary {
    #[serde(flatten)]
    pub editeur: Editeur,
    pub forms: i64,
    pub requests: i64,
}

/// Éditeurs whose name or SIRET contains `query` (all when empty), by name.
pub fn list(conn: &mut DbConnection, query: &str) -> QueryResult<Vec<EditeurSummary>> {
    let mut q = editeurs::table.into_boxed();
    if let Some(text) = crate::search::parse(query) {
        q = q.filter(crate::search::target_in(
            conn,
            "editeurs.id",
            crate::search::Kind::Editeur,
            &text,
        )?);
    }
    let rows: Vec<Editeur> = q
        .order((editeurs::name.asc(), editeurs::id.asc()))
        .select(Editeur::as_select())
        .load(conn)?;
    let form_counts: Vec<(String, i64)> = editeur_forms::table
        .group_by(editeur_forms::editeur_id)
        .select((editeur_forms::editeur_id, diesel::dsl::count_star()))
        .load(conn)?;
    let requests = super::counters::client_requests(conn)?;
    let mut summaries = Vec::with_capacity(rows.len());
    for editeur in rows {
        let forms = form_counts
            .iter()
            .find(|(id, _)| *id == editeur.id)
            .map_or(0, |(_, n)| *n);
        let requests = requests.get(&editeur.id).copied().unwrap_or(0);
        summaries.push(EditeurSummary {
            editeur,
            forms,
            requests,
        });
    }
    Ok(summaries)
}

/// One éditeur by id.
pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Editeur>> {
    editeurs::table
        .find(id)
        .select(Editeur::as_select())
        .first(conn)
        .optional()
}

/// The éditeur with this SIRET, if any.
pub fn find_by_siret(conn: &mut DbConnection, siret: &str) -> QueryResult<Option<Editeur>> {
    editeurs::table
        .filter(editeurs::siret.eq(siret))
        .select(Editeur::as_select())
        .first(conn)
        .optional()
}

/// Inserts an éditeur.
pub fn insert(conn: &mut DbConnection, editeur: &Editeur) -> QueryResult<()> {
    diesel::insert_into(editeurs::table)
        .values(editeur)
        .execute(conn)?;
    Ok(())
}

/// Changes an éditeur's name, contact technique and APIs; returns the number of rows changed.
pub fn update(
    conn: &mut DbConnection,
    id: &str,
    name: &str,
    contact_technique_email: &str,
    apis: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(editeurs::table.find(id))
        .set((
            editeurs::name.eq(name),
            editeurs::contact_technique_email.eq(contact_technique_email),
            editeurs::apis.eq(apis),
            editeurs::updated_at.eq(now),
        ))
        .execute(conn)
}

/// The pre-filled forms of an éditeur, by form id.
pub fn forms(conn: &mut DbConnection, editeur_id: &str) -> QueryResult<Vec<EditeurForm>> {
    editeur_forms::table
        .filter(editeur_forms::editeur_id.eq(editeur_id))
        .order(editeur_forms::form_uid.asc())
        .select(EditeurForm::as_select())
        .load(conn)
}

/// One form of an éditeur, by row id (none when it belongs to another éditeur).
pub fn find_form(
    conn: &mut DbConnection,
    editeur_id: &str,
    id: &str,
) -> QueryResult<Option<EditeurForm>> {
    editeur_forms::table
        .find(id)
        .filter(editeur_forms::editeur_id.eq(editeur_id))
        .select(EditeurForm::as_select())
        .first(conn)
        .optional()
}

/// The form with this DataPass form id, whatever its éditeur, with the éditeur's name.
pub fn find_form_by_uid(
    conn: &mut DbConnection,
    form_uid: &str,
) -> QueryResult<Option<(EditeurForm, String)>> {
    editeur_forms::table
        .inner_join(editeurs::table)
        .filter(editeur_forms::form_uid.eq(form_uid))
        .select((EditeurForm::as_select(), editeurs::name))
        .first(conn)
        .optional()
}

/// Inserts a pre-filled form.
pub fn insert_form(conn: &mut DbConnection, form: &EditeurForm) -> QueryResult<()> {
    diesel::insert_into(editeur_forms::table)
        .values(form)
        .execute(conn)?;
    Ok(())
}

/// Removes a pre-filled form (requests made through it keep their form id).
pub fn delete_form(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
    diesel::delete(editeur_forms::table.find(id)).execute(conn)
}

/// The members of an éditeur, by e-mail.
pub fn members(conn: &mut DbConnection, editeur_id: &str) -> QueryResult<Vec<EditeurMember>> {
    editeur_members::table
        .filter(editeur_members::editeur_id.eq(editeur_id))
        .order(editeur_members::email.asc())
        .select(EditeurMember::as_select())
        .load(conn)
}

/// A request made through one of an éditeur's forms, with its collectivité.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ClientRequest {
    pub request_id: String,
    pub datapass_id: Option<i64>,
    pub state: String,
    pub state_label: &'static str,
    pub form_uid: String,
    pub collectivite_id: String,
    pub collectivite_name: String,
    pub siret: String,
}

/// Rows per page of an éditeur's client requests on its staff page.
pub const CLIENTS_PER_PAGE: i64 = 50;

/// One page of an éditeur's client requests, newest first, with the totals of the search.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ClientRequestPage {
    pub items: Vec<ClientRequest>,
    /// Request id to pass as `apres` for the next page; none on the last page.
    pub next_cursor: Option<String>,
    /// Requests kept by the search (all pages).
    pub requests: i64,
    /// Distinct collectivités of those requests.
    pub collectivites: i64,
}

/// Request id, DataPass number, state, form id, collectivité id, name, SIRET and creation.
type ClientPageColumns = (
    String,
    Option<i64>,
    String,
    String,
    String,
    String,
    String,
    NaiveDateTime,
);

/// Narrows a boxed query over requests joined to collectivités to the name or SIRET search.
macro_rules! client_search {
    ($q:expr, $search:expr) => {{
        let search: &str = $search;
        let mut q = $q;
        if !search.is_empty() {
            q = q.filter(
                lower(collectivites::name)
                    .like(contains_pattern(search))
                    .escape('\\')
                    .or(collectivites::siret
                        .like(contains_pattern(&search.replace(' ', "")))
                        .escape('\\')),
            );
        }
        q
    }};
}

/// Up to `limit` client requests of `editeur_id` (see [`client_filter`]) whose collectivité name or
/// SIRET contains `search`, newest first, after the request `after` (keyset: the page reads
/// `limit` entries of the indexes `(editeur_id, created_at, id)` and `(form_uid, created_at,
/// id)`, however deep it is). The counts read the same two indexes.
pub fn client_page(
    conn: &mut DbConnection,
    editeur_id: &str,
    search: &str,
    after: Option<&str>,
    limit: i64,
    cache: &crate::models::result_cache::ResultCache<super::editeur_clients::Candidates>,
) -> QueryResult<ClientRequestPage> {
    let limit = limit.max(1);
    let search = search.trim();
    let form_uids: Vec<String> = editeur_forms::table
        .filter(editeur_forms::editeur_id.eq(editeur_id))
        .select(editeur_forms::form_uid)
        .load(conn)?;
    let cursor: Option<(NaiveDateTime, String)> = match after {
        Some(id) if !id.is_empty() => habilitation_requests::table
            .find(id)
            .select((habilitation_requests::created_at, habilitation_requests::id))
            .first(conn)
            .optional()?,
        _ => None,
    };
    // From the counters kept by triggers: every client request, and those made through the
    // éditeur's forms but recorded for no one or someone else.
    let (all_requests, through_forms_others) =
        super::counters::client_requests_of(conn, editeur_id, &form_uids)?;
    // Two streams, each in index order: requests recorded for the éditeur, and requests made
    // through its forms but recorded for no one or someone else (read only when there are
    // any: it walks every request of the forms). Disjoint, merged here.
    let mut rows: Vec<ClientPageColumns> = Vec::new();
    for through_forms in [false, true] {
        if through_forms && through_forms_others == 0 {
            continue;
        }
        let mut q = habilitation_requests::table
            .inner_join(collectivites::table)
            .into_boxed();
        q = if through_forms {
            // `= ANY` on PostgreSQL: its planner keeps the `(form_uid, created_at, id)` index
            // order (a JSON list read as a set made it sort every client request).
            q.filter(habilitation_requests::form_uid.eq_any(form_uids.clone()))
                .filter(
                    habilitation_requests::editeur_id
                        .is_null()
                        .or(habilitation_requests::editeur_id.ne(editeur_id)),
                )
        } else {
            q.filter(habilitation_requests::editeur_id.eq(editeur_id))
        };
        if let Some((created_at, id)) = &cursor {
            q = q
                .filter(habilitation_requests::created_at.le(*created_at))
                .filter(
                    habilitation_requests::created_at
                        .lt(*created_at)
                        .or(habilitation_requests::id.lt(id.clone())),
                );
        }
        q = client_search!(q, search);
        rows.extend(
            q.order((
                habilitation_requests::created_at.desc(),
                habilitation_requests::id.desc(),
            ))
            .limit(limit + 1)
            .select((
                habilitation_requests::id,
                habilitation_requests::datapass_id,
                habilitation_requests::state,
                habilitation_requests::form_uid,
                collectivites::id,
                collectivites::name,
                collectivites::siret,
                habilitation_requests::created_at,
            ))
            .load::<ClientPageColumns>(conn)?,
        );
    }
    rows.sort_by(|a, b| (b.7, &b.0).cmp(&(a.7, &a.0)));
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|r| r.0.clone())
    } else {
        None
    };
    let (requests, collectivites) = if search.is_empty() {
        // The request count from the counters kept by triggers (see `models::counters`).
        let requests = all_requests;
        // The client collectivités: the set the éditeur space reads, kept until the data
        // changes (see `editeur_clients::candidates`).
        let collectivites =
            super::editeur_clients::candidates(conn, editeur_id, "", cache)?.len() as i64;
        (requests, collectivites)
    } else {
        let joined = || {
            client_search!(
                habilitation_requests::table
                    .inner_join(collectivites::table)
                    .filter(client_filter(editeur_id))
                    .into_boxed(),
                search
            )
        };
        let requests: i64 = joined().count().get_result(conn)?;
        let collectivites: i64 = joined()
            .select(diesel::dsl::count(habilitation_requests::collectivite_id).aggregate_distinct())
            .first(conn)?;
        (requests, collectivites)
    };
    let items = rows
        .into_iter()
        .map(
            |(request_id, datapass_id, state, form_uid, collectivite_id, name, siret, _)| {
                ClientRequest {
                    request_id,
                    datapass_id,
                    state_label: state
                        .parse::<RequestState>()
                        .map_or("Inconnu", RequestState::label_fr),
                    state,
                    form_uid,
                    collectivite_id,
                    collectivite_name: name,
                    siret,
                }
            },
        )
        .collect();
    Ok(ClientRequestPage {
        items,
        next_cursor,
        requests,
        collectivites,
    })
}

/// The condition "this request is a client request of the éditeur": recorded for it, or made
/// through one of its pre-filled forms (form ids are unique). Three SQL shapes of the same
/// condition, each for a different outer set (see [`Shape`]).
#[derive(Clone, Debug)]
pub(crate) struct ClientRequests {
    editeur_id: String,
    shape: Shape,
}

/// How [`ClientRequests`] is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// `habilitation_requests.id IN (two index ranges)`, for an outer set that is every request:
    /// the `OR` of the two conditions made both databases scan every request (0.5 s at
    /// national scale for one éditeur's counts).
    IdSet,
    /// The `OR` tested on each row, for an outer set already narrowed by an index (the
    /// requests of a few collectivités): the id set would be built for nothing.
    Row,
    /// `EXISTS` a client request of the collectivité, for one collectivité (an API lookup by
    /// SIRET): a probe instead of every client request.
    Collectivite,
    /// `collectivites.id IN (the collectivités of the two index ranges)`: the client
    /// collectivités of an éditeur, read from the indexes alone (see
    /// `editeur_clients::candidates`).
    CollectiviteIdSet,
}

/// The client requests of `editeur_id`, as a set of request ids (see [`Shape::IdSet`]).
pub(crate) fn client_filter(editeur_id: &str) -> ClientRequests {
    ClientRequests {
        editeur_id: editeur_id.to_owned(),
        shape: Shape::IdSet,
    }
}

/// The same condition tested row by row (see [`Shape::Row`]).
pub(crate) fn client_row_filter(editeur_id: &str) -> ClientRequests {
    ClientRequests {
        editeur_id: editeur_id.to_owned(),
        shape: Shape::Row,
    }
}

/// The same condition on `collectivites`, as the set of client collectivités (see
/// [`Shape::CollectiviteIdSet`]).
pub(crate) fn client_collectivite_set(editeur_id: &str) -> ClientRequests {
    ClientRequests {
        editeur_id: editeur_id.to_owned(),
        shape: Shape::CollectiviteIdSet,
    }
}

/// The condition on `collectivites`: one of its requests is a client request of `editeur_id`
/// (see [`Shape::Collectivite`]).
pub(crate) fn client_collectivite_filter(editeur_id: &str) -> ClientRequests {
    ClientRequests {
        editeur_id: editeur_id.to_owned(),
        shape: Shape::Collectivite,
    }
}

/// Makes `$ty`, whose SQL its `QueryFragment` writes, a diesel expression of type `$sql_type`
/// usable in any query (a filter, a select), never cached by its type.
macro_rules! sql_expression {
    ($ty:ty, $sql_type:ty) => {
        impl diesel::expression::Expression for $ty {
            type SqlType = $sql_type;
        }

        impl<QS> diesel::expression::AppearsOnTable<QS> for $ty {}

        impl<QS> diesel::expression::SelectableExpression<QS> for $ty {}

        impl diesel::expression::ValidGrouping<()> for $ty {
            type IsAggregate = diesel::expression::is_aggregate::Never;
        }

        impl diesel::query_builder::QueryId for $ty {
            type QueryId = ();
            const HAS_STATIC_QUERY_ID: bool = false;
        }
    };
}

sql_expression!(ClientRequests, diesel::sql_types::Bool);

impl<DB> diesel::query_builder::QueryFragment<DB> for ClientRequests
where
    DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<diesel::sql_types::Text>,
    String: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        use diesel::sql_types::Text;
        let forms_of =
            " IN (SELECT form.form_uid FROM editeur_forms AS form WHERE form.editeur_id = ";
        match self.shape {
            Shape::IdSet | Shape::CollectiviteIdSet => {
                let (outer, column) = if self.shape == Shape::IdSet {
                    ("habilitation_requests.id", "client.id")
                } else {
                    ("collectivites.id", "client.collectivite_id")
                };
                out.push_sql(outer);
                out.push_sql(" IN (");
                walk_client_union(&mut out, &self.editeur_id, column, "UNION ALL")?;
                out.push_sql(")");
            }
            Shape::Row => {
                out.push_sql("(habilitation_requests.editeur_id = ");
                out.push_bind_param::<Text, String>(&self.editeur_id)?;
                out.push_sql(" OR habilitation_requests.form_uid");
                out.push_sql(forms_of);
                out.push_bind_param::<Text, String>(&self.editeur_id)?;
                out.push_sql("))");
            }
            Shape::Collectivite => {
                out.push_sql(
                    "EXISTS (SELECT 1 FROM habilitation_requests AS client \
                     WHERE client.collectivite_id = collectivites.id AND (client.editeur_id = ",
                );
                out.push_bind_param::<Text, String>(&self.editeur_id)?;
                out.push_sql(" OR client.form_uid");
                out.push_sql(forms_of);
                out.push_bind_param::<Text, String>(&self.editeur_id)?;
                out.push_sql(")))");
            }
        }
        Ok(())
    }
}

/// `SELECT column` of the éditeur's client requests, as two index ranges joined by `union`:
/// recorded for it, or made through one of its forms and recorded for no one or another.
fn walk_client_union<'b, DB>(
    out: &mut diesel::query_builder::AstPass<'_, 'b, DB>,
    editeur_id: &'b String,
    column: &'static str,
    union: &'static str,
) -> QueryResult<()>
where
    DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<diesel::sql_types::Text>,
    String: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
{
    use diesel::sql_types::Text;
    out.push_sql("SELECT ");
    out.push_sql(column);
    out.push_sql(" FROM habilitation_requests AS client WHERE client.editeur_id = ");
    out.push_bind_param::<Text, String>(editeur_id)?;
    out.push_sql(" ");
    out.push_sql(union);
    out.push_sql(" SELECT ");
    out.push_sql(column);
    out.push_sql(
        " FROM editeur_forms AS form \
         JOIN habilitation_requests AS client ON client.form_uid = form.form_uid \
         WHERE form.editeur_id = ",
    );
    out.push_bind_param::<Text, String>(editeur_id)?;
    out.push_sql(" AND (client.editeur_id IS NULL OR client.editeur_id <> ");
    out.push_bind_param::<Text, String>(editeur_id)?;
    out.push_sql(")");
    Ok(())
}

/// Checks a DataPass form id: 3 to 120 lower-case letters, digits and hyphens.
pub fn valid_form_uid(uid: &str) -> bool {
    (3..=120).contains(&uid.len())
        && uid
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Normalizes a comma-separated list of API names: trimmed, lower-case, without empties or
/// repeats, in the order given. Returns the first invalid name (allowed: `a-z`, `0-9`, `_`).
pub fn normalize_apis(input: &str) -> Result<String, String> {
    let mut apis: Vec<String> = Vec::new();
    for raw in input.split([',', ';', '\n']) {
        let api = raw.trim().to_lowercase();
        if api.is_empty() {
            continue;
        }
        if !api
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(raw.trim().to_owned());
        }
        if !apis.contains(&api) {
            apis.push(api);
        }
    }
    Ok(apis.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_uids() {
        assert!(valid_form_uid(
            "api-particulier-city-family-mushroom-software"
        ));
        assert!(valid_form_uid("abc"));
        assert!(valid_form_uid(&"a".repeat(120)));
        for bad in [
            "ab",
            "Api-particulier",
            "api_particulier",
            "api particulier",
            "é-form",
        ] {
            assert!(!valid_form_uid(bad), "{bad}");
        }
        assert!(!valid_form_uid(&"a".repeat(121)));
    }

    #[test]
    fn api_lists() {
        assert_eq!(
            normalize_apis(" Quotient_Familial_v2, statut_etudiant,,quotient_familial_v2 "),
            Ok("quotient_familial_v2,statut_etudiant".to_owned())
        );
        assert_eq!(normalize_apis(""), Ok(String::new()));
        assert_eq!(
            normalize_apis("quotient_familial_v2, statut étudiant"),
            Err("statut étudiant".to_owned())
        );
    }
}
