//! The key that encrypts session cookies: `SESSION_KEY`, or one generated once and kept in
//! the database so that restarts and other instances do not sign everyone out.

use base64::Engine;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::app_secrets;

const NAME: &str = "session_key";

/// The stored key, created on first use (64 random bytes).
pub fn load_or_create(conn: &mut DbConnection) -> anyhow::Result<Vec<u8>> {
    let engine = base64::engine::general_purpose::STANDARD;
    let read = |conn: &mut DbConnection| -> QueryResult<Option<String>> {
        app_secrets::table
            .find(NAME)
            .select(app_secrets::value)
            .first(conn)
            .optional()
    };
    if let Some(value) = read(conn)? {
        return Ok(engine.decode(value)?);
    }
    let mut key = vec![0u8; 64];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("aléa : {e}"))?;
    let inserted = diesel::insert_into(app_secrets::table)
        .values((
            app_secrets::name.eq(NAME),
            app_secrets::value.eq(engine.encode(&key)),
            app_secrets::created_at.eq(crate::db::now()),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(key),
        // Another instance created it first: use theirs.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => match read(conn)? {
            Some(value) => Ok(engine.decode(value)?),
            None => anyhow::bail!("clé de session introuvable"),
        },
        Err(e) => Err(e.into()),
    }
}
