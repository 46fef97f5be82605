//! Who is signed in and what they may see: the session, the identity derived from the data
//! (staff role, éditeurs, contact on requests), and the guards handlers call. Deny by default:
//! a handler that does not ask for a role gets an anonymous-safe page only.

pub mod csrf;
pub mod links;
pub mod proconnect;
pub mod session;
pub mod session_key;
pub mod view_as;

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::{FromRequest, HttpRequest, web};
use chrono::NaiveDateTime;
use diesel::QueryResult;

use crate::db::DbConnection;
use crate::domain::roles::StaffRole;
use crate::error::AppError;
use crate::models::accounts;
use crate::state::AppState;

pub use crate::domain::identity::Identity;

/// Session key: the signed-in address.
pub const SESSION_EMAIL: &str = "email";
/// Session key: the CSRF token of this session.
pub const SESSION_CSRF: &str = "csrf";
/// Session key: last activity (Unix seconds), for the idle timeout.
pub const SESSION_SEEN: &str = "seen";
/// Session key: when the person signed in (Unix seconds), for the absolute timeout.
pub const SESSION_SIGNED_IN: &str = "signed_in_at";
/// Session key: how the person signed in (`email` or `proconnect`).
pub const SESSION_METHOD: &str = "auth_method";
/// Session key: the ProConnect id_token, for the end-session request at sign-out.
pub const SESSION_ID_TOKEN: &str = "id_token";

/// How a session was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInMethod {
    /// A link mailed to the address.
    EmailLink,
    /// ProConnect; the id_token is kept for sign-out.
    ProConnect,
}

impl SignInMethod {
    fn as_str(self) -> &'static str {
        match self {
            SignInMethod::EmailLink => "email",
            SignInMethod::ProConnect => "proconnect",
        }
    }
}

/// Loads the roles of an address from the data.
pub fn load_identity(conn: &mut DbConnection, email: &str) -> QueryResult<Identity> {
    let (staff_role, editeur_ids, is_contact) = accounts::roles_of(conn, email)?;
    Ok(Identity {
        email: email.to_owned(),
        is_staff: staff_role.is_some(),
        is_admin: staff_role == Some(StaffRole::Admin),
        is_editeur: !editeur_ids.is_empty(),
        staff_role,
        editeur_ids,
        is_contact,
    })
}

/// The signed-in person's identity and, while a staff member views the back office as
/// someone, the identity of the person viewed (who must still have a role).
pub type Identities = (Identity, Option<Identity>);

/// Loads the identity of `email` and, when `view_as` names someone and `email` is staff, the
/// identity of the person viewed (only while that person still has a role).
pub fn load_identities(
    conn: &mut DbConnection,
    email: &str,
    view_as: Option<&str>,
) -> QueryResult<Identities> {
    let identity = load_identity(conn, email)?;
    let viewed = match view_as {
        Some(target) if identity.is_staff => {
            Some(load_identity(conn, target)?).filter(Identity::has_any_role)
        }
        _ => None,
    };
    Ok((identity, viewed))
}

/// Whether a session last seen at `seen` and opened at `signed_in` (Unix seconds) is still
/// open at `now`: `idle` seconds idle and `max` seconds after sign-in at most
/// (`SESSION_IDLE_TIMEOUT`, `SESSION_MAX_LIFETIME`; the server-side store enforces the same
/// lifetime on its rows); a session without its sign-in instant is closed.
pub fn session_is_fresh(now: i64, seen: i64, signed_in: Option<i64>, idle: i64, max: i64) -> bool {
    now - seen <= idle && signed_in.is_some_and(|at| now - at <= max)
}

/// Random bytes from the operating system, hex-encoded.
pub fn random_hex(bytes: usize) -> Result<String, AppError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| AppError::Internal(anyhow::anyhow!("aléa : {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// What every page handler starts from: the session, the signed-in identity (if any), the
/// session's CSRF token and the time of the request.
pub struct PageCtx {
    pub session: Session,
    pub user: Option<Identity>,
    pub csrf: String,
    pub now: NaiveDateTime,
    /// While a staff member views the back office as someone else (read-only): the staff
    /// member's own address; `user` is then the person viewed.
    pub viewing_as: Option<String>,
}

impl PageCtx {
    /// The signed-in person, or a redirect to the sign-in page.
    pub fn user(&self) -> Result<&Identity, AppError> {
        self.user.as_ref().ok_or(AppError::Unauthenticated)
    }

    /// A member of the API Particulier team.
    pub fn staff(&self) -> Result<&Identity, AppError> {
        let user = self.user()?;
        if user.is_staff {
            Ok(user)
        } else {
            Err(AppError::Forbidden(
                "Cette page est réservée à l'équipe API Particulier.".into(),
            ))
        }
    }

    /// An administrator of the back office.
    pub fn admin(&self) -> Result<&Identity, AppError> {
        let user = self.user()?;
        if user.is_admin {
            Ok(user)
        } else {
            Err(AppError::Forbidden(
                "Cette page est réservée aux administrateurs du back-office.".into(),
            ))
        }
    }

    /// A template context with the layout's variables (user, CSRF token).
    pub fn context(&self) -> tera::Context {
        let mut context = tera::Context::new();
        context.insert("user", &self.user);
        context.insert("csrf_token", &self.csrf);
        if let (Some(staff), Some(user)) = (&self.viewing_as, &self.user) {
            context.insert(
                "view_as",
                &serde_json::json!({"staff": staff, "target": user.email}),
            );
        }
        context
    }

    /// Signs `email` in by e-mail link.
    pub fn sign_in(&self, email: &str) -> Result<(), AppError> {
        self.sign_in_with(email, SignInMethod::EmailLink, None)
    }

    /// Signs `email` in: a fresh server-side session (new key, new CSRF token) against
    /// fixation, with the instant of sign-in (absolute lifetime), the method and what sign-out
    /// will need.
    pub fn sign_in_with(
        &self,
        email: &str,
        method: SignInMethod,
        id_token: Option<&str>,
    ) -> Result<(), AppError> {
        session::start(&self.session, email, self.now)?;
        session::store_value(
            &self.session,
            SESSION_SIGNED_IN,
            &self.now.and_utc().timestamp().to_string(),
        )?;
        session::store_value(&self.session, SESSION_METHOD, method.as_str())?;
        if let Some(id_token) = id_token {
            session::store_value(&self.session, SESSION_ID_TOKEN, id_token)?;
        }
        Ok(())
    }

    /// How this session was opened, and the ProConnect id_token if any.
    pub fn sign_in_method(&self) -> (Option<SignInMethod>, Option<String>) {
        let method = match session::value(&self.session, SESSION_METHOD) {
            Some(m) if m == "proconnect" => Some(SignInMethod::ProConnect),
            Some(m) if m == "email" => Some(SignInMethod::EmailLink),
            _ => None,
        };
        (method, session::value(&self.session, SESSION_ID_TOKEN))
    }

    /// Signs out: the server-side session is deleted and its cookie removed.
    pub fn sign_out(&self) {
        session::end(&self.session);
    }
}

type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;

impl FromRequest for PageCtx {
    type Error = AppError;
    type Future = LocalFuture<Result<PageCtx, AppError>>;

    fn from_request(req: &HttpRequest, _payload: &mut actix_web::dev::Payload) -> Self::Future {
        let session = req.get_session();
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::Internal(anyhow::anyhow!("état absent")))?;
            let now = crate::db::now();
            let session_error =
                |e: &dyn std::fmt::Display| AppError::Internal(anyhow::anyhow!("session : {e}"));
            let csrf = match session
                .get::<String>(SESSION_CSRF)
                .map_err(|e| session_error(&e))?
            {
                Some(token) => token,
                None => {
                    let token = random_hex(32)?;
                    session
                        .insert(SESSION_CSRF, &token)
                        .map_err(|e| session_error(&e))?;
                    token
                }
            };
            let email = session
                .get::<String>(SESSION_EMAIL)
                .map_err(|e| session_error(&e))?;
            let seen = session
                .get::<String>(SESSION_SEEN)
                .ok()
                .flatten()
                .and_then(|s| s.parse::<i64>().ok());
            let signed_in = session
                .get::<String>(SESSION_SIGNED_IN)
                .ok()
                .flatten()
                .and_then(|s| s.parse::<i64>().ok());
            let now_ts = now.and_utc().timestamp();
            let idle_seconds = state.settings.session_idle_timeout.as_secs() as i64;
            let max_seconds = state.settings.session_max_lifetime.as_secs() as i64;
            let fresh =
                |seen: i64| session_is_fresh(now_ts, seen, signed_in, idle_seconds, max_seconds);
            let mut viewing_as = None;
            let user = match (email, seen) {
                (Some(email), Some(seen)) if fresh(seen) => {
                    let view_as = session
                        .get::<String>(view_as::SESSION_VIEW_AS)
                        .ok()
                        .flatten();
                    // Loaded with the session's row, in the same database call (see
                    // `session::SESSION_IDENTITIES`); read here when the session was not
                    // loaded from the store during this request.
                    let loaded = session
                        .get::<session::Loaded>(session::SESSION_IDENTITIES)
                        .ok()
                        .flatten()
                        .filter(|loaded| loaded.email == email && loaded.view_as == view_as);
                    let (identity, viewed) = match loaded {
                        Some(loaded) => loaded.identities,
                        None => {
                            state
                                .db(move |conn| {
                                    Ok(load_identities(conn, &email, view_as.as_deref())?)
                                })
                                .await?
                        }
                    };
                    if now_ts - seen > 60 {
                        let _ = session.insert(SESSION_SEEN, now_ts.to_string());
                    }
                    match viewed {
                        Some(viewed) => {
                            viewing_as = Some(identity.email.clone());
                            Some(viewed)
                        }
                        None => identity.has_any_role().then_some(identity),
                    }
                }
                (Some(_), _) => {
                    // Idle too long, older than 24 h (or malformed): signed out, a new
                    // anonymous session.
                    session.purge();
                    let token = random_hex(32)?;
                    let _ = session.insert(SESSION_CSRF, &token);
                    return Ok(PageCtx {
                        session,
                        user: None,
                        csrf: token,
                        now,
                        viewing_as: None,
                    });
                }
                _ => None,
            };
            Ok(PageCtx {
                session,
                user,
                csrf,
                now,
                viewing_as,
            })
        })
    }
}

/// A handler for the API Particulier team takes `Staff { page, user }: Staff`: extraction
/// answers the sign-in redirect or 403 for anyone else, so the role is in the signature.
pub struct Staff {
    pub page: PageCtx,
    /// The staff member signed in (or viewed as).
    pub user: Identity,
}

/// A handler for administrators takes `Admin { page, user }: Admin` (sign-in redirect or 403
/// for anyone else).
pub struct Admin {
    pub page: PageCtx,
    /// The administrator signed in.
    pub user: Identity,
}

impl FromRequest for Staff {
    type Error = AppError;
    type Future = LocalFuture<Result<Staff, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let page = PageCtx::from_request(req, payload);
        Box::pin(async move {
            let page = page.await?;
            let user = page.staff()?.clone();
            Ok(Staff { page, user })
        })
    }
}

impl FromRequest for Admin {
    type Error = AppError;
    type Future = LocalFuture<Result<Admin, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let page = PageCtx::from_request(req, payload);
        Box::pin(async move {
            let page = page.await?;
            let user = page.admin()?.clone();
            Ok(Admin { page, user })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_close_after_12_hours_idle_or_24_hours_in_all() {
        let h = 3600;
        let t0 = 1_000_000;
        assert!(session_is_fresh(t0 + 12 * h, t0, Some(t0), 12 * h, 24 * h));
        assert!(!session_is_fresh(
            t0 + 12 * h + 1,
            t0,
            Some(t0),
            12 * h,
            24 * h
        ));
        // Active every hour: still closed 24 h after sign-in.
        assert!(session_is_fresh(
            t0 + 24 * h,
            t0 + 23 * h,
            Some(t0),
            12 * h,
            24 * h
        ));
        assert!(!session_is_fresh(
            t0 + 24 * h + 1,
            t0 + 24 * h,
            Some(t0),
            12 * h,
            24 * h
        ));
        assert!(!session_is_fresh(t0, t0, None, 12 * h, 24 * h));
    }
}
