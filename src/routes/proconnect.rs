//! Sign-in with ProConnect: the button's form starts the flow, the callback checks `state`
//! (session and server-side record), has the identity verified and opens the session with the
//! same role rules as the e-mail link; the post-logout landing after ProConnect's end-session.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::see_other;
use super::shared::sign_in::{self, SESSION_LOGOUT_STATE};
use crate::auth::proconnect::{
    self, DEFAULT_ACR, MFA_ACR, PendingFlow, ProConnect, StateError, VerifiedIdentity,
};
use crate::auth::{PageCtx, SignInMethod, load_identity};
use crate::error::AppError;
use crate::models::events;
use crate::state::AppState;

/// Session key: the flow under way (JSON of [`PendingFlow`]).
const SESSION_FLOW: &str = "proconnect_flow";
/// The callback path, to register with ProConnect as redirect URI.
pub const CALLBACK_PATH: &str = "/connexion/proconnect/retour";
fn client(state: &AppState) -> Result<&ProConnect, AppError> {
    state.proconnect.as_ref().ok_or(AppError::NotFound)
}

fn redirect_uri(state: &AppState) -> String {
    format!("{}{CALLBACK_PATH}", state.settings.public_url)
}

/// The French page of a refused or failed ProConnect sign-in.
fn failure(
    state: &AppState,
    page: &PageCtx,
    status: StatusCode,
    message: &str,
) -> Result<HttpResponse, AppError> {
    let mut context = page.context();
    context.insert("message", message);
    state.render_status(status, "auth/proconnect_error.html", context)
}

/// Starts a flow at `acr`: remembers it in the session and server-side, then sends the
/// browser to the provider.
async fn redirect_to_provider(
    state: &AppState,
    page: &PageCtx,
    acr: &str,
) -> Result<HttpResponse, AppError> {
    let pc = client(state)?;
    let now = page.now;
    let (url, flow) = match pc
        .start(&redirect_uri(state), acr, now.and_utc().timestamp())
        .await
    {
        Ok(started) => started,
        Err(e) => {
            tracing::warn!(error = %e, "ProConnect : démarrage impossible");
            return failure(state, page, StatusCode::BAD_GATEWAY, e.message_fr());
        }
    };
    let json = serde_json::to_string(&flow)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session : {e}")))?;
    page.session
        .insert(SESSION_FLOW, json)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session : {e}")))?;
    let flow_state = flow.state.clone();
    state
        .db(move |conn| Ok(proconnect::record_state(conn, &flow_state, now)?))
        .await?;
    Ok(see_other(&url))
}

/// `POST /connexion/proconnect`: the button.
pub async fn start(state: web::Data<AppState>, page: PageCtx) -> Result<HttpResponse, AppError> {
    client(&state)?;
    if page.user.is_some() {
        return Ok(see_other("/"));
    }
    redirect_to_provider(&state, &page, DEFAULT_ACR).await
}

#[derive(serde::Deserialize)]
pub struct CallbackQuery {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// `GET /connexion/proconnect/retour`: the provider sends the browser back here.
pub async fn callback(
    state: web::Data<AppState>,
    page: PageCtx,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, AppError> {
    let pc = client(&state)?;
    let pending: Option<PendingFlow> = page
        .session
        .get::<String>(SESSION_FLOW)
        .ok()
        .flatten()
        .and_then(|json| serde_json::from_str(&json).ok());
    let given = query.state.clone().unwrap_or_default();
    // The flow must have been started from this browser; only then is its state used up
    // (a forged or foreign callback neither signs anyone in nor spoils the real one).
    let flow = pending.filter(|p| !given.is_empty() && proconnect::same(&p.state, &given));
    if flow.is_some() {
        page.session.remove(SESSION_FLOW);
    }
    let now = page.now;
    let record = if given.is_empty() {
        Err(StateError::Unknown)
    } else {
        let given = given.clone();
        let consume = flow.is_some();
        state
            .db(move |conn| Ok(proconnect::check_state(conn, &given, now, consume)?))
            .await?
    };
    let refused = |message: &str| failure(&state, &page, StatusCode::BAD_REQUEST, message);
    match record {
        Err(StateError::Used) => {
            return refused(
                "Ce retour de ProConnect a déjà été utilisé : une connexion ne sert qu'une fois. Recommencez depuis la page de connexion.",
            );
        }
        Err(StateError::Expired) => {
            return refused(
                "Cette connexion ProConnect a pris plus de 10 minutes et a expiré. Recommencez depuis la page de connexion.",
            );
        }
        Err(StateError::Unknown) => {
            return refused(
                "Ce retour de ProConnect ne correspond à aucune connexion demandée par le back-office : il est refusé. Recommencez depuis la page de connexion.",
            );
        }
        Ok(()) => {}
    }
    let Some(flow) = flow else {
        return refused(
            "Cette connexion ProConnect n'a pas été demandée depuis ce navigateur : elle est refusée. Recommencez depuis la page de connexion.",
        );
    };
    if query.error.is_some() {
        return refused(
            "La connexion ProConnect a été annulée ou refusée par votre fournisseur d'identité. Vous pouvez recommencer, ou recevoir un lien de connexion par e-mail.",
        );
    }
    let Some(code) = query.code.as_deref().filter(|c| !c.is_empty()) else {
        return refused(
            "ProConnect n'a pas transmis de code d'autorisation. Recommencez depuis la page de connexion.",
        );
    };
    let identity = match pc.finish(&flow, code, &redirect_uri(&state)).await {
        Ok(identity) => identity,
        Err(e) => {
            tracing::warn!(error = %e, "ProConnect : connexion refusée");
            let status = match e {
                proconnect::ProConnectError::Unavailable(_) => StatusCode::BAD_GATEWAY,
                _ => StatusCode::BAD_REQUEST,
            };
            return failure(&state, &page, status, e.message_fr());
        }
    };
    if pc.requires_mfa(identity.idp_id.as_deref()) && !identity.has_mfa() {
        if flow.acr == MFA_ACR {
            return failure(
                &state,
                &page,
                StatusCode::FORBIDDEN,
                "Votre organisation exige une double authentification, que ProConnect n'a pas confirmée : la connexion est refusée. Activez la double authentification auprès de votre fournisseur d'identité, puis recommencez.",
            );
        }
        // As DataPass does: ask again, with the level that requires a second factor.
        return redirect_to_provider(&state, &page, MFA_ACR).await;
    }
    sign_in(&state, &page, identity).await
}

/// Opens the session for a verified identity that has a role; records the sign-in.
async fn sign_in(
    state: &AppState,
    page: &PageCtx,
    identity: VerifiedIdentity,
) -> Result<HttpResponse, AppError> {
    let now = page.now;
    let email = identity.email.clone();
    let details = serde_json::json!({
        "method": "proconnect",
        "sub": identity.sub,
        "siret": identity.siret,
        "idp_id": identity.idp_id,
        "amr": identity.amr,
        "acr": identity.acr,
    })
    .to_string();
    let allowed = state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                if !load_identity(conn, &email)?.has_any_role() {
                    events::record(
                        conn,
                        now,
                        &email,
                        "auth.sign_in_refused",
                        ("person", &email),
                        Some(details),
                    )?;
                    return Ok(false);
                }
                events::record(
                    conn,
                    now,
                    &email,
                    "auth.sign_in",
                    ("person", &email),
                    Some(details),
                )?;
                Ok(true)
            })
        })
        .await?;
    if !allowed {
        let mut context = page.context();
        context.insert("email", &identity.email);
        return state.render_status(StatusCode::FORBIDDEN, "auth/no_access.html", context);
    }
    page.sign_in_with(
        &identity.email,
        SignInMethod::ProConnect,
        Some(&identity.id_token),
    )?;
    Ok(see_other("/"))
}

#[derive(serde::Deserialize)]
pub struct LogoutQuery {
    #[serde(default)]
    state: String,
}

/// `GET /deconnexion/proconnect`: back from ProConnect's end-session endpoint.
pub async fn after_logout(
    state: web::Data<AppState>,
    page: PageCtx,
    query: web::Query<LogoutQuery>,
) -> Result<HttpResponse, AppError> {
    let expected = page
        .session
        .get::<String>(SESSION_LOGOUT_STATE)
        .ok()
        .flatten();
    page.session.remove(SESSION_LOGOUT_STATE);
    let matches = expected.is_some_and(|e| proconnect::same(&e, &query.state));
    if !matches || page.user.is_some() {
        return Ok(see_other("/connexion"));
    }
    sign_in::render_login(
        &state,
        &page,
        StatusCode::OK,
        "",
        None,
        Some("Vous êtes déconnecté du back-office et de ProConnect."),
    )
}
