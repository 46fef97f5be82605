//! Sign-in links: a random token mailed to a known address, stored only as its SHA-256,
//! valid 15 minutes and usable once. Requests are limited per client IP (every request), per
//! (address, IP) and per address per day (links actually sent only). The daily cap does not apply
//! from an IP the address already signed in from within the retention of sign-in data, so someone
//! asking links for another person from many IPs cannot lock that person out.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::DbConnection;
use crate::db::schema::{login_attempts, login_tokens};

/// How long a link works.
pub const LINK_LIFETIME_MINUTES: i64 = 15;
/// The rate-limit window.
pub const RATE_WINDOW_MINUTES: i64 = 15;
/// Links sent to one address from one client IP within the window.
pub const MAX_PER_ADDRESS_AND_IP: i64 = 5;
/// Link requests allowed per client IP within the window (whatever the outcome).
pub const MAX_PER_IP: i64 = 20;
/// Links sent to one address within 24 hours, from any IP (except from an IP this address
/// signed in from: see [`KNOWN_DEVICE_DAYS`]).
pub const MAX_PER_ADDRESS_PER_DAY: i64 = 20;
/// How long an IP a person signed in from stays exempt from that person's daily cap.
pub const KNOWN_DEVICE_DAYS: i64 = 30;

/// The path of the sign-in link page.
pub const LINK_PATH: &str = "/connexion/lien";

/// Why a link cannot be used.
#[derive(Debug, PartialEq, Eq)]
pub enum LinkError {
    /// No such link (mistyped, or forged).
    Unknown,
    /// Older than 15 minutes.
    Expired,
    /// Already used to sign in.
    Used,
}

impl LinkError {
    /// What the user reads.
    pub fn message_fr(&self) -> &'static str {
        match self {
            LinkError::Unknown => {
                "Ce lien de connexion n'est pas valide. Vérifiez qu'il a été copié en entier, ou demandez-en un nouveau."
            }
            LinkError::Expired => {
                "Ce lien de connexion a expiré : il n'est valable que 15 minutes. Demandez-en un nouveau."
            }
            LinkError::Used => {
                "Ce lien de connexion a déjà été utilisé : chaque lien ne sert qu'une fois. Demandez-en un nouveau."
            }
        }
    }
}

fn hash(token: &str) -> String {
    Sha256::digest(token.trim().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A recorded link request.
pub struct Attempt {
    /// Its row, to mark once a link is sent.
    pub id: String,
    /// Whether it is within the limits.
    pub allowed: bool,
}

/// Records a link request and tells whether it is within the limits.
pub fn record_attempt(
    conn: &mut DbConnection,
    email: &str,
    ip: &str,
    now: NaiveDateTime,
) -> QueryResult<Attempt> {
    let since = now - Duration::minutes(RATE_WINDOW_MINUTES);
    let by_ip: i64 = login_attempts::table
        .filter(login_attempts::ip.eq(ip))
        .filter(login_attempts::created_at.gt(since))
        .count()
        .get_result(conn)?;
    let sent_here: i64 = login_attempts::table
        .filter(login_attempts::email.eq(email))
        .filter(login_attempts::ip.eq(ip))
        .filter(login_attempts::sent.eq(true))
        .filter(login_attempts::created_at.gt(since))
        .count()
        .get_result(conn)?;
    let sent_today: i64 = login_attempts::table
        .filter(login_attempts::email.eq(email))
        .filter(login_attempts::sent.eq(true))
        .filter(login_attempts::created_at.gt(now - Duration::days(1)))
        .count()
        .get_result(conn)?;
    let over_daily_cap = sent_today >= MAX_PER_ADDRESS_PER_DAY
        && !signed_in_from(conn, email, ip, now - Duration::days(KNOWN_DEVICE_DAYS))?;
    let id = crate::db::new_id();
    diesel::insert_into(login_attempts::table)
        .values((
            login_attempts::id.eq(&id),
            login_attempts::email.eq(email),
            login_attempts::ip.eq(ip),
            login_attempts::created_at.eq(now),
            login_attempts::sent.eq(false),
        ))
        .execute(conn)?;
    Ok(Attempt {
        id,
        allowed: by_ip < MAX_PER_IP && sent_here < MAX_PER_ADDRESS_AND_IP && !over_daily_cap,
    })
}

/// Whether `email` used a sign-in link from `ip` since `since`.
fn signed_in_from(
    conn: &mut DbConnection,
    email: &str,
    ip: &str,
    since: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        login_tokens::table
            .filter(login_tokens::email.eq(email))
            .filter(login_tokens::used_ip.eq(ip))
            .filter(login_tokens::used_at.gt(since)),
    ))
    .get_result(conn)
}

/// Counts a request as a sent link (the only ones the address limits count).
pub fn mark_link_sent(conn: &mut DbConnection, attempt_id: &str) -> QueryResult<()> {
    diesel::update(login_attempts::table.find(attempt_id))
        .set(login_attempts::sent.eq(true))
        .execute(conn)?;
    Ok(())
}

/// Creates a link token for `email`; returns the token (only its hash is stored).
pub fn create_token(
    conn: &mut DbConnection,
    email: &str,
    now: NaiveDateTime,
) -> anyhow::Result<String> {
    let token = {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("aléa : {e}"))?;
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    };
    diesel::insert_into(login_tokens::table)
        .values((
            login_tokens::id.eq(crate::db::new_id()),
            login_tokens::token_hash.eq(hash(&token)),
            login_tokens::email.eq(email),
            login_tokens::created_at.eq(now),
            login_tokens::expires_at.eq(now + Duration::minutes(LINK_LIFETIME_MINUTES)),
        ))
        .execute(conn)?;
    Ok(token)
}

/// The full sign-in URL for a token.
pub fn link_url(public_url: &str, token: &str) -> String {
    format!("{public_url}{LINK_PATH}?jeton={token}")
}

/// A stored link: (id, e-mail, expires at, used at).
type StoredLink = (String, String, NaiveDateTime, Option<NaiveDateTime>);

fn lookup(conn: &mut DbConnection, token: &str) -> QueryResult<Option<StoredLink>> {
    login_tokens::table
        .filter(login_tokens::token_hash.eq(hash(token)))
        .select((
            login_tokens::id,
            login_tokens::email,
            login_tokens::expires_at,
            login_tokens::used_at,
        ))
        .first(conn)
        .optional()
}

/// Checks a link without using it (for the confirmation page).
pub fn check(
    conn: &mut DbConnection,
    token: &str,
    now: NaiveDateTime,
) -> QueryResult<Result<String, LinkError>> {
    Ok(match lookup(conn, token)? {
        None => Err(LinkError::Unknown),
        Some((_, _, _, Some(_))) => Err(LinkError::Used),
        Some((_, _, expires_at, None)) if expires_at <= now => Err(LinkError::Expired),
        Some((_, email, _, None)) => Ok(email),
    })
}

/// Uses a link from client `ip`: at most once, even under concurrent clicks. Returns the
/// address it signs in.
pub fn consume(
    conn: &mut DbConnection,
    token: &str,
    ip: &str,
    now: NaiveDateTime,
) -> QueryResult<Result<String, LinkError>> {
    let Some((id, email, expires_at, used_at)) = lookup(conn, token)? else {
        return Ok(Err(LinkError::Unknown));
    };
    if used_at.is_some() {
        return Ok(Err(LinkError::Used));
    }
    if expires_at <= now {
        return Ok(Err(LinkError::Expired));
    }
    let won = diesel::update(
        login_tokens::table
            .filter(login_tokens::id.eq(&id))
            .filter(login_tokens::used_at.is_null()),
    )
    .set((
        login_tokens::used_at.eq(Some(now)),
        login_tokens::used_ip.eq(Some(ip)),
    ))
    .execute(conn)?;
    Ok(if won == 1 {
        Ok(email)
    } else {
        Err(LinkError::Used)
    })
}
