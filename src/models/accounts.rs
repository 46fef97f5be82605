//! Accounts: staff members (instructeur, admin) and éditeur members. Contacts of requests
//! need no account: their roles follow from the requests they are on.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{editeur_members, editeurs, request_contacts, staff_members};

use crate::domain::roles::StaffRole;
pub use crate::domain::roles::staff::{ADMIN, INSTRUCTEUR};

/// A member of the API Particulier team.
#[derive(Clone, Debug, Queryable, Selectable, Insertable, Identifiable, serde::Serialize)]
#[diesel(table_name = staff_members, treat_none_as_default_value = false)]
pub struct StaffMember {
    pub id: String,
    pub email: String,
    pub role: StaffRole,
    pub created_at: NaiveDateTime,
    pub created_by: String,
}

/// A person working for an éditeur.
#[derive(Clone, Debug, Queryable, Selectable, Insertable, Identifiable, serde::Serialize)]
#[diesel(table_name = editeur_members, treat_none_as_default_value = false)]
pub struct EditeurMember {
    pub id: String,
    pub editeur_id: String,
    pub email: String,
    pub created_at: NaiveDateTime,
    pub created_by: String,
}

/// Every role an address holds, read by one statement on each page view: its staff role, the
/// éditeurs it belongs to (as a member or as the contact technique, sorted), and whether it
/// is a contact on at least one request. Same answers as [`staff_role`], [`editeur_ids`] and
/// [`is_contact`].
pub fn roles_of(
    conn: &mut DbConnection,
    email: &str,
) -> QueryResult<(Option<StaffRole>, Vec<String>, bool)> {
    let rows: Vec<(String, String)> = RoleRows {
        email: email.to_owned(),
    }
    .load(conn)?;
    let mut staff = None;
    let mut editeurs = Vec::new();
    let mut contact = false;
    for (kind, value) in rows {
        match kind.as_str() {
            "staff" => staff = value.parse::<StaffRole>().ok(),
            "editeur" if !editeurs.contains(&value) => editeurs.push(value),
            "contact" => contact = true,
            _ => {}
        }
    }
    editeurs.sort();
    Ok((staff, editeurs, contact))
}

/// The statement of [`roles_of`]: one `(kind, value)` row per role.
struct RoleRows {
    email: String,
}

impl diesel::query_builder::QueryId for RoleRows {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for RoleRows {
    type SqlType = (diesel::sql_types::Text, diesel::sql_types::Text);
}

impl<Conn> RunQueryDsl<Conn> for RoleRows {}

impl<DB> diesel::query_builder::QueryFragment<DB> for RoleRows
where
    DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<diesel::sql_types::Text>,
    String: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        use diesel::sql_types::Text;
        out.push_sql("SELECT 'staff', role FROM staff_members WHERE email = ");
        out.push_bind_param::<Text, String>(&self.email)?;
        out.push_sql(" UNION ALL SELECT 'editeur', editeur_id FROM editeur_members WHERE email = ");
        out.push_bind_param::<Text, String>(&self.email)?;
        out.push_sql(
            " UNION ALL SELECT 'editeur', id FROM editeurs \
             WHERE lower(contact_technique_email) = ",
        );
        out.push_bind_param::<Text, String>(&self.email)?;
        // EXISTS: one index entry read, however many requests the address is a contact on.
        out.push_sql(
            " UNION ALL SELECT 'contact', '' WHERE EXISTS \
             (SELECT 1 FROM request_contacts WHERE email = ",
        );
        out.push_bind_param::<Text, String>(&self.email)?;
        out.push_sql(")");
        Ok(())
    }
}

/// The staff role of an address, if any.
pub fn staff_role(conn: &mut DbConnection, email: &str) -> QueryResult<Option<StaffRole>> {
    staff_members::table
        .filter(staff_members::email.eq(email))
        .select(staff_members::role)
        .first(conn)
        .optional()
}

/// The éditeurs an address belongs to: as a member, or as the éditeur's contact technique.
pub fn editeur_ids(conn: &mut DbConnection, email: &str) -> QueryResult<Vec<String>> {
    let mut ids: Vec<String> = editeur_members::table
        .filter(editeur_members::email.eq(email))
        .select(editeur_members::editeur_id)
        .load(conn)?;
    let as_contact: Vec<String> = editeurs::table
        .filter(crate::db::lower(editeurs::contact_technique_email).eq(email))
        .select(editeurs::id)
        .load(conn)?;
    for id in as_contact {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids.sort();
    Ok(ids)
}

/// Whether an address is a contact on at least one request.
pub fn is_contact(conn: &mut DbConnection, email: &str) -> QueryResult<bool> {
    // EXISTS, not a count: one index entry read on every page view, however many requests
    // the address is a contact on.
    diesel::select(diesel::dsl::exists(
        request_contacts::table.filter(request_contacts::email.eq(email)),
    ))
    .get_result(conn)
}

/// Creates (or changes the role of) a staff member; returns true when newly created.
pub fn upsert_staff(
    conn: &mut DbConnection,
    email: &str,
    role: StaffRole,
    by: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    crate::db::transaction(conn, |conn| {
        let changed = diesel::update(staff_members::table.filter(staff_members::email.eq(email)))
            .set(staff_members::role.eq(role))
            .execute(conn)?;
        if changed > 0 {
            return Ok(false);
        }
        diesel::insert_into(staff_members::table)
            .values(StaffMember {
                id: crate::db::new_id(),
                email: email.to_owned(),
                role,
                created_at: now,
                created_by: by.to_owned(),
            })
            .execute(conn)?;
        Ok(true)
    })
}

/// Every staff member, by e-mail.
pub fn list_staff(conn: &mut DbConnection) -> QueryResult<Vec<StaffMember>> {
    staff_members::table
        .order(staff_members::email.asc())
        .select(StaffMember::as_select())
        .load(conn)
}

/// Number of admins.
pub fn count_admins(conn: &mut DbConnection) -> QueryResult<i64> {
    staff_members::table
        .filter(staff_members::role.eq(ADMIN))
        .count()
        .get_result(conn)
}

/// One staff member by id.
pub fn find_staff(conn: &mut DbConnection, id: &str) -> QueryResult<Option<StaffMember>> {
    staff_members::table
        .find(id)
        .select(StaffMember::as_select())
        .first(conn)
        .optional()
}

/// Removes a staff member.
pub fn delete_staff(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
    diesel::delete(staff_members::table.find(id)).execute(conn)
}

/// Adds an éditeur member; returns false when already a member.
pub fn add_editeur_member(
    conn: &mut DbConnection,
    editeur_id: &str,
    email: &str,
    by: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let existing: i64 = editeur_members::table
        .filter(editeur_members::editeur_id.eq(editeur_id))
        .filter(editeur_members::email.eq(email))
        .count()
        .get_result(conn)?;
    if existing > 0 {
        return Ok(false);
    }
    diesel::insert_into(editeur_members::table)
        .values(EditeurMember {
            id: crate::db::new_id(),
            editeur_id: editeur_id.to_owned(),
            email: email.to_owned(),
            created_at: now,
            created_by: by.to_owned(),
        })
        .execute(conn)?;
    Ok(true)
}

/// Every éditeur member with the éditeur's name, by éditeur then e-mail.
pub fn list_editeur_members(conn: &mut DbConnection) -> QueryResult<Vec<(EditeurMember, String)>> {
    editeur_members::table
        .inner_join(editeurs::table)
        .order((editeurs::name.asc(), editeur_members::email.asc()))
        .select((EditeurMember::as_select(), editeurs::name))
        .load(conn)
}

/// One éditeur member by id.
pub fn find_editeur_member(
    conn: &mut DbConnection,
    id: &str,
) -> QueryResult<Option<EditeurMember>> {
    editeur_members::table
        .find(id)
        .select(EditeurMember::as_select())
        .first(conn)
        .optional()
}

/// Removes an éditeur member.
pub fn delete_editeur_member(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
    diesel::delete(editeur_members::table.find(id)).execute(conn)
}
