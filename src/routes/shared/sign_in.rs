//! The sign-in page and the end of a ProConnect session, shared by the e-mail link and
//! ProConnect flows.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;

use crate::auth::PageCtx;
use crate::error::AppError;
use crate::state::AppState;

/// Session key: the `state` sent with the end-session request.
pub const SESSION_LOGOUT_STATE: &str = "proconnect_logout_state";
/// The post-logout path, to register with ProConnect as post-logout redirect URI.
pub const LOGOUT_PATH: &str = "/deconnexion/proconnect";

/// The sign-in page: the e-mail form, and the ProConnect button when it is configured.
pub fn render_login(
    state: &AppState,
    page: &PageCtx,
    status: StatusCode,
    email: &str,
    error: Option<&str>,
    notice: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let mut context = page.context();
    context.insert("email", email);
    context.insert("error", &error);
    context.insert("notice", &notice);
    context.insert("proconnect", &state.proconnect.is_some());
    state.render_status(status, "auth/login.html", context)
}

/// Where sign-out sends a ProConnect session: the local session is already ended; the
/// browser goes to ProConnect's end-session endpoint when the provider has one.
pub async fn end_session_redirect(state: &AppState, page: &PageCtx, id_token: &str) -> String {
    let Some(pc) = state.proconnect.as_ref() else {
        return "/connexion".into();
    };
    let Ok(logout_state) = crate::auth::random_hex(16) else {
        return "/connexion".into();
    };
    let post_logout = format!("{}{LOGOUT_PATH}", state.settings.public_url);
    match pc
        .end_session_url(id_token, &logout_state, &post_logout)
        .await
    {
        Ok(Some(url)) => {
            let _ = page.session.insert(SESSION_LOGOUT_STATE, logout_state);
            url
        }
        Ok(None) => "/connexion".into(),
        Err(e) => {
            tracing::warn!(error = %e, "ProConnect : déconnexion distante impossible");
            "/connexion".into()
        }
    }
}
