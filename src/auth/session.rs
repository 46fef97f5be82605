//! Server-side sessions: the cookie (encrypted by actix-session) holds only a random key; the
//! state lives in the `sessions` table under the key's SHA-256. A session ends after
//! `SESSION_IDLE_TIMEOUT` without use or `SESSION_MAX_LIFETIME` after sign-in, whichever comes
//! first; deleting its row (sign-out, removal of a person, « terminer toutes les sessions »)
//! ends it at once, even for a copied cookie.
//!
//! The API other sign-in methods plug into: [`start`], [`end`], [`store_value`], [`value`],
//! [`revoke_person`], [`revoke_all_except`].

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use actix_session::Session;
use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration as CookieDuration;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::{SESSION_CSRF, SESSION_EMAIL, SESSION_SEEN, random_hex};

/// Session-state key of the identities loaded with the session's row ([`Loaded`]): the store
/// adds it on every load and removes it before every write, so it is never stored and never
/// older than the request.
pub const SESSION_IDENTITIES: &str = "__identities";

/// The identities the store loaded with a session, for the address and view-as target the
/// session held then: `PageCtx` uses them instead of a second database call.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Loaded {
    /// The signed-in address they were loaded for.
    pub email: String,
    /// The view-as target they were loaded for.
    pub view_as: Option<String>,
    /// The person's identity and the one viewed, if any (see `auth::load_identities`).
    pub identities: super::Identities,
}

/// The state as stored: without what the store adds on load.
fn stored(mut state: HashMap<String, String>) -> HashMap<String, String> {
    state.remove(SESSION_IDENTITIES);
    state
}

/// Adds the identities of the session's signed-in person (see [`Loaded`]) to a state just
/// read from its row.
fn add_identities(
    conn: &mut DbConnection,
    state: &mut HashMap<String, String>,
) -> anyhow::Result<()> {
    state.remove(SESSION_IDENTITIES);
    let Some(email) = signed_in_email(state) else {
        return Ok(());
    };
    let view_as = state
        .get(super::view_as::SESSION_VIEW_AS)
        .and_then(|v| serde_json::from_str::<String>(v).ok());
    let identities = super::load_identities(conn, &email, view_as.as_deref())?;
    let loaded = Loaded {
        email,
        view_as,
        identities,
    };
    state.insert(
        SESSION_IDENTITIES.to_owned(),
        serde_json::to_string(&loaded)?,
    );
    Ok(())
}
use crate::db::schema::sessions;
use crate::db::{DbConnection, Pool};
use crate::error::AppError;

/// Stores sessions in the database.
#[derive(Clone)]
pub struct DbSessionStore {
    pool: Pool,
    max_lifetime: Duration,
}

impl DbSessionStore {
    /// A store over `pool`; sessions older than `max_lifetime` are over.
    pub fn new(pool: Pool, max_lifetime: StdDuration) -> DbSessionStore {
        DbSessionStore {
            pool,
            max_lifetime: Duration::from_std(max_lifetime).unwrap_or(Duration::days(1)),
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await?
    }
}

/// The row id of a session key: its SHA-256, so a database dump opens no session.
fn row_id(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn signed_in_email(state: &HashMap<String, String>) -> Option<String> {
    state
        .get(SESSION_EMAIL)
        .and_then(|v| serde_json::from_str::<String>(v).ok())
}

fn ttl_of(ttl: &CookieDuration) -> Duration {
    Duration::seconds(ttl.whole_seconds().max(1))
}

fn new_key() -> anyhow::Result<String> {
    random_hex(32).map_err(|e| anyhow::anyhow!("{e}"))
}

fn insert_row(
    conn: &mut DbConnection,
    state: &HashMap<String, String>,
    ttl: Duration,
) -> anyhow::Result<String> {
    let key = new_key()?;
    let now = crate::db::now();
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(row_id(&key)),
            sessions::email.eq(signed_in_email(state)),
            sessions::state.eq(serde_json::to_string(state)?),
            sessions::created_at.eq(now),
            sessions::updated_at.eq(now),
            sessions::expires_at.eq(now + ttl),
        ))
        .execute(conn)?;
    Ok(key)
}

impl SessionStore for DbSessionStore {
    async fn load(
        &self,
        session_key: &SessionKey,
    ) -> Result<Option<HashMap<String, String>>, LoadError> {
        let id = row_id(session_key.as_ref());
        let max_lifetime = self.max_lifetime;
        self.blocking(move |conn| {
            let row: Option<(String, NaiveDateTime, NaiveDateTime)> = sessions::table
                .find(&id)
                .select((sessions::state, sessions::created_at, sessions::expires_at))
                .first(conn)
                .optional()?;
            let Some((state, created_at, expires_at)) = row else {
                return Ok(None);
            };
            let now = crate::db::now();
            if expires_at <= now || created_at + max_lifetime <= now {
                diesel::delete(sessions::table.find(&id)).execute(conn)?;
                return Ok(None);
            }
            let mut state = serde_json::from_str(&state)?;
            add_identities(conn, &mut state)?;
            Ok(Some(state))
        })
        .await
        .map_err(LoadError::Other)
    }

    async fn save(
        &self,
        session_state: HashMap<String, String>,
        ttl: &CookieDuration,
    ) -> Result<SessionKey, SaveError> {
        let ttl = ttl_of(ttl);
        let session_state = stored(session_state);
        let key = self
            .blocking(move |conn| insert_row(conn, &session_state, ttl))
            .await
            .map_err(SaveError::Other)?;
        SessionKey::try_from(key).map_err(|e| SaveError::Other(anyhow::anyhow!("{e}")))
    }

    async fn update(
        &self,
        session_key: SessionKey,
        session_state: HashMap<String, String>,
        ttl: &CookieDuration,
    ) -> Result<SessionKey, UpdateError> {
        let ttl = ttl_of(ttl);
        let session_state = stored(session_state);
        let key: String = session_key.into();
        let id = row_id(&key);
        let key = self
            .blocking(move |conn| {
                let now = crate::db::now();
                let updated = diesel::update(sessions::table.find(&id))
                    .set((
                        sessions::email.eq(signed_in_email(&session_state)),
                        sessions::state.eq(serde_json::to_string(&session_state)?),
                        sessions::updated_at.eq(now),
                        sessions::expires_at.eq(now + ttl),
                    ))
                    .execute(conn)?;
                if updated == 1 {
                    return Ok(key);
                }
                // Revoked while the request ran: never resurrect it signed in.
                let mut anonymous = session_state;
                anonymous.remove(SESSION_EMAIL);
                anonymous.remove(SESSION_SEEN);
                insert_row(conn, &anonymous, ttl)
            })
            .await
            .map_err(UpdateError::Other)?;
        SessionKey::try_from(key).map_err(|e| UpdateError::Other(anyhow::anyhow!("{e}")))
    }

    async fn update_ttl(
        &self,
        session_key: &SessionKey,
        ttl: &CookieDuration,
    ) -> anyhow::Result<()> {
        let ttl = ttl_of(ttl);
        let id = row_id(session_key.as_ref());
        self.blocking(move |conn| {
            let now = crate::db::now();
            diesel::update(sessions::table.find(&id))
                .set((
                    sessions::updated_at.eq(now),
                    sessions::expires_at.eq(now + ttl),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    async fn delete(&self, session_key: &SessionKey) -> anyhow::Result<()> {
        let id = row_id(session_key.as_ref());
        self.blocking(move |conn| {
            diesel::delete(sessions::table.find(&id)).execute(conn)?;
            Ok(())
        })
        .await
    }
}

fn session_error(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("session : {e}"))
}

/// Opens a session for `email`: a fresh key (the old one is deleted, against fixation), a new
/// CSRF token, and the lifetimes counted from now.
pub fn start(session: &Session, email: &str, now: NaiveDateTime) -> Result<(), AppError> {
    session.renew();
    session.clear();
    session
        .insert(SESSION_EMAIL, email.to_owned())
        .map_err(session_error)?;
    session
        .insert(SESSION_CSRF, random_hex(32)?)
        .map_err(session_error)?;
    session
        .insert(SESSION_SEEN, now.and_utc().timestamp().to_string())
        .map_err(session_error)?;
    Ok(())
}

/// Ends a session: its row is deleted and its cookie removed.
pub fn end(session: &Session) {
    session.purge();
}

/// Keeps an extra value (e.g. an identity provider's `id_token`) on the server-side session.
pub fn store_value(session: &Session, key: &str, value: &str) -> Result<(), AppError> {
    session.insert(key, value.to_owned()).map_err(session_error)
}

/// An extra value kept by [`store_value`].
pub fn value(session: &Session, key: &str) -> Option<String> {
    session.get::<String>(key).ok().flatten()
}

/// Ends every session of `email` at once (sign-out everywhere, removal of a person).
pub fn revoke_person(conn: &mut DbConnection, email: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::email.eq(email))).execute(conn)
}

/// Ends every signed-in session except those of `keep` (the administrator asking).
pub fn revoke_all_except(conn: &mut DbConnection, keep: &str) -> QueryResult<usize> {
    diesel::delete(
        sessions::table
            .filter(sessions::email.is_not_null())
            .filter(sessions::email.ne(keep)),
    )
    .execute(conn)
}

/// Deletes sessions past their idle or absolute lifetime; returns how many.
pub fn purge_expired(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    max_lifetime: StdDuration,
) -> QueryResult<usize> {
    let max_lifetime = Duration::from_std(max_lifetime).unwrap_or(Duration::days(1));
    diesel::delete(
        sessions::table.filter(
            sessions::expires_at
                .le(now)
                .or(sessions::created_at.le(now - max_lifetime)),
        ),
    )
    .execute(conn)
}
