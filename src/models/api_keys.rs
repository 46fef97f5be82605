//! Éditeur API keys: created named and shown once, stored as their SHA-256, looked up by that
//! hash on every API call (last use recorded), revoked by the éditeur's members or admins.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::DbConnection;
use crate::db::schema::{api_keys, editeurs};

/// Every key starts with this, so that a leaked one is recognisable.
pub const KEY_PREFIX: &str = "qfb_";
/// Longest key name accepted.
pub const MAX_NAME_CHARS: usize = 100;

/// A key as stored (never the key itself).
#[derive(Clone, Debug, Queryable, Selectable, Insertable, Identifiable, serde::Serialize)]
#[diesel(table_name = api_keys, treat_none_as_default_value = false)]
pub struct ApiKey {
    pub id: String,
    pub editeur_id: String,
    pub name: String,
    /// SHA-256 of the whole key, hex.
    #[serde(skip)]
    pub key_hash: String,
    /// The first characters of the key, to tell keys apart.
    pub key_prefix: String,
    pub created_at: NaiveDateTime,
    pub created_by: String,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
    pub revoked_by: Option<String>,
}

/// The SHA-256 of a key, hex.
pub fn hash_key(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A key name: whitespace folded, 1 to [`MAX_NAME_CHARS`] characters; or the French problem.
pub fn clean_name(raw: &str) -> Result<String, String> {
    let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        Err("Donnez un nom à la clé (par exemple « Production » ou « Recette »).".to_owned())
    } else if name.chars().count() > MAX_NAME_CHARS {
        Err(format!(
            "Le nom de la clé ne doit pas dépasser {MAX_NAME_CHARS} caractères."
        ))
    } else {
        Ok(name)
    }
}

/// Creates a key for an éditeur; returns the stored row and the key, which is never stored
/// nor shown again. `random` is 32 random bytes, hex-encoded (64 characters).
pub fn create(
    conn: &mut DbConnection,
    editeur_id: &str,
    name: &str,
    random: &str,
    created_by: &str,
    now: NaiveDateTime,
) -> QueryResult<(ApiKey, String)> {
    let key = format!("{KEY_PREFIX}{random}");
    let row = ApiKey {
        id: crate::db::new_id(),
        editeur_id: editeur_id.to_owned(),
        name: name.to_owned(),
        key_hash: hash_key(&key),
        key_prefix: key.chars().take(KEY_PREFIX.len() + 6).collect(),
        created_at: now,
        created_by: created_by.to_owned(),
        last_used_at: None,
        revoked_at: None,
        revoked_by: None,
    };
    diesel::insert_into(api_keys::table)
        .values(&row)
        .execute(conn)?;
    super::events::record(
        conn,
        now,
        created_by,
        "api_key.create",
        ("editeur", editeur_id),
        Some(format!("clé « {} » ({}…)", row.name, row.key_prefix)),
    )?;
    Ok((row, key))
}

/// The live key matching `key` and its éditeur's name, recording this use.
pub fn authenticate(
    conn: &mut DbConnection,
    key: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<(ApiKey, String)>> {
    let found: Option<(ApiKey, String)> = api_keys::table
        .inner_join(editeurs::table)
        .filter(api_keys::key_hash.eq(hash_key(key)))
        .filter(api_keys::revoked_at.is_null())
        .select((ApiKey::as_select(), editeurs::name))
        .first(conn)
        .optional()?;
    if let Some((row, _)) = &found {
        diesel::update(api_keys::table.find(&row.id))
            .set(api_keys::last_used_at.eq(now))
            .execute(conn)?;
    }
    Ok(found)
}

/// An éditeur's keys, live ones first, newest first.
pub fn for_editeur(conn: &mut DbConnection, editeur_id: &str) -> QueryResult<Vec<ApiKey>> {
    let mut rows: Vec<ApiKey> = api_keys::table
        .filter(api_keys::editeur_id.eq(editeur_id))
        .order((api_keys::created_at.desc(), api_keys::id.asc()))
        .select(ApiKey::as_select())
        .load(conn)?;
    rows.sort_by_key(|k| k.revoked_at.is_some());
    Ok(rows)
}

/// One key of an éditeur (none when it belongs to another).
pub fn find(conn: &mut DbConnection, editeur_id: &str, id: &str) -> QueryResult<Option<ApiKey>> {
    api_keys::table
        .find(id)
        .filter(api_keys::editeur_id.eq(editeur_id))
        .select(ApiKey::as_select())
        .first(conn)
        .optional()
}

/// Revokes a live key of an éditeur and logs it; false when there was none to revoke.
pub fn revoke(
    conn: &mut DbConnection,
    editeur_id: &str,
    id: &str,
    by: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let changed = diesel::update(
            api_keys::table
                .find(id)
                .filter(api_keys::editeur_id.eq(editeur_id))
                .filter(api_keys::revoked_at.is_null()),
        )
        .set((api_keys::revoked_at.eq(now), api_keys::revoked_by.eq(by)))
        .execute(conn)?;
        if changed == 1 {
            super::events::record(
                conn,
                now,
                by,
                "api_key.revoke",
                ("editeur", editeur_id),
                Some(format!("clé {id}")),
            )?;
        }
        Ok(changed == 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(clean_name("  Prod   v2 "), Ok("Prod v2".to_owned()));
        assert!(clean_name("   ").is_err());
        assert!(clean_name(&"x".repeat(101)).is_err());
    }
}
