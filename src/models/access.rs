//! The access policy: who may see what, in one place, for routes and queries alike.
//! Staff see everything; an éditeur sees what concerns the requests naming it (or, for a
//! HubEE subscription, the éditeur it is delegated to); a contact sees what concerns the
//! requests they are on. Anything else is out of reach (routes answer 404).

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{editeurs, habilitation_requests, request_contacts};
use crate::domain::identity::Identity;

/// Whether `identity` is on the éditeur side of `editeur_id`.
fn is_editeur_of(identity: &Identity, editeur_id: Option<&str>) -> bool {
    editeur_id.is_some_and(|id| identity.editeur_ids.iter().any(|e| e == id))
}

/// Whether `identity` is a contact of one of the collectivité's requests.
fn is_contact_of_collectivite(
    conn: &mut DbConnection,
    identity: &Identity,
    collectivite_id: &str,
) -> QueryResult<bool> {
    let n: i64 = request_contacts::table
        .inner_join(habilitation_requests::table)
        .filter(habilitation_requests::collectivite_id.eq(collectivite_id))
        .filter(request_contacts::email.eq(&identity.email))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Whether `identity` may see a request (and its token): staff, the request's éditeur, or
/// one of its contacts.
pub fn request_visible(
    conn: &mut DbConnection,
    identity: &Identity,
    request_id: &str,
    editeur_id: Option<&str>,
) -> QueryResult<bool> {
    if identity.is_staff || is_editeur_of(identity, editeur_id) {
        return Ok(true);
    }
    let n: i64 = request_contacts::table
        .filter(request_contacts::request_id.eq(request_id))
        .filter(request_contacts::email.eq(&identity.email))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Whether `identity` may get a collectivité's kit de communication and éditeur URLs: staff,
/// its contacts (an address on one of its requests) and its éditeurs (an éditeur named on
/// one of its requests).
pub fn collectivite_visible(
    conn: &mut DbConnection,
    identity: &Identity,
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
    is_contact_of_collectivite(conn, identity, collectivite_id)
}

/// Whether `identity` may see a HubEE subscription: staff, the éditeur it is delegated to
/// (by SIRET), an éditeur of one of the collectivité's requests, or a contact of one of them.
pub fn subscription_visible(
    conn: &mut DbConnection,
    identity: &Identity,
    delegation_editeur_siret: Option<&str>,
    collectivite_id: &str,
) -> QueryResult<bool> {
    if identity.is_staff {
        return Ok(true);
    }
    if let Some(siret) = delegation_editeur_siret {
        let delegated: Vec<String> = editeurs::table
            .filter(editeurs::siret.eq(siret))
            .select(editeurs::id)
            .load(conn)?;
        if delegated.iter().any(|id| identity.editeur_ids.contains(id)) {
            return Ok(true);
        }
    }
    let request_editeurs: Vec<Option<String>> = habilitation_requests::table
        .filter(habilitation_requests::collectivite_id.eq(collectivite_id))
        .select(habilitation_requests::editeur_id)
        .load(conn)?;
    if request_editeurs
        .iter()
        .flatten()
        .any(|id| identity.editeur_ids.contains(id))
    {
        return Ok(true);
    }
    is_contact_of_collectivite(conn, identity, collectivite_id)
}
