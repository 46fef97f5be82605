//! Sign-in by e-mail link (the ProConnect button sits beside it), and sign-out.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::see_other;
use super::shared::sign_in;
use crate::auth::links::{self, LinkError};
use crate::auth::{PageCtx, SignInMethod, load_identity};
use crate::error::AppError;
use crate::mail::{normalize_address, outbox};
use crate::models::events;
use crate::state::AppState;

/// `GET /connexion`: the sign-in form.
pub async fn login_form(
    state: web::Data<AppState>,
    page: PageCtx,
) -> Result<HttpResponse, AppError> {
    if page.user.is_some() {
        return Ok(see_other("/"));
    }
    sign_in::render_login(&state, &page, StatusCode::OK, "", None, None)
}

/// The client's IP as the sign-in limits record it.
fn client_ip_text(req: &HttpRequest, state: &AppState) -> String {
    crate::security::client_ip(req, &state.settings.trusted_proxies)
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "inconnue".into())
}

#[derive(serde::Deserialize)]
pub struct LinkRequest {
    #[serde(default)]
    email: String,
}

enum Outcome {
    Sent,
    Unknown,
    Limited,
}

/// `POST /connexion`: mails a link to a known address; the answer is the same for unknown ones.
pub async fn request_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    page: PageCtx,
    form: web::Form<LinkRequest>,
) -> Result<HttpResponse, AppError> {
    let email = normalize_address(&form.email);
    if !crate::mail::is_valid_address(&email) {
        return sign_in::render_login(
            &state,
            &page,
            StatusCode::BAD_REQUEST,
            &form.email,
            Some("Saisissez une adresse e-mail complète, par exemple prenom.nom@mairie.fr."),
            None,
        );
    }
    let ip = client_ip_text(&req, &state);
    let now = page.now;
    let worker = state.clone();
    let address = email.clone();
    let outcome = state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                let attempt = links::record_attempt(conn, &address, &ip, now)?;
                if !attempt.allowed {
                    return Ok(Outcome::Limited);
                }
                if !load_identity(conn, &address)?.has_any_role() {
                    return Ok(Outcome::Unknown);
                }
                let token = links::create_token(conn, &address, now)?;
                let url = links::link_url(&worker.settings.public_url, &token);
                let mut context = tera::Context::new();
                context.insert("link", &url);
                context.insert("minutes", &links::LINK_LIFETIME_MINUTES);
                let mut email =
                    worker.render_email("login_link", vec![address.clone()], vec![], context)?;
                email.related = Some(("person".into(), address.clone()));
                outbox::enqueue(conn, &email, now)?;
                links::mark_link_sent(conn, &attempt.id)?;
                Ok(Outcome::Sent)
            })
        })
        .await?;
    match outcome {
        Outcome::Limited => {
            return Err(AppError::TooManyRequests(format!(
                "Trop de demandes de lien de connexion. Réessayez dans {} minutes.",
                links::RATE_WINDOW_MINUTES
            )));
        }
        Outcome::Sent => {
            state.mailer.notify();
            if state.settings.mail.smtp_url.is_none() {
                // No mail server (laptop): say where the e-mail goes; the link itself never
                // reaches the log.
                tracing::info!(
                    dossier = %state.settings.mail.outbox_dir.display(),
                    "lien de connexion écrit en fichier .eml (aucun SMTP configuré)"
                );
            }
        }
        Outcome::Unknown => {}
    }
    let mut context = page.context();
    context.insert("email", &email);
    context.insert("minutes", &links::LINK_LIFETIME_MINUTES);
    state.render("auth/link_sent.html", context)
}

#[derive(serde::Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    jeton: String,
}

fn link_error_page(
    state: &AppState,
    page: &PageCtx,
    error: &LinkError,
) -> Result<HttpResponse, AppError> {
    let mut context = page.context();
    context.insert("message", error.message_fr());
    state.render_status(StatusCode::GONE, "auth/link_invalid.html", context)
}

/// `GET /connexion/lien?jeton=…`: checks the link and asks for a click (mail scanners that
/// open links do not sign anyone in nor burn the link).
pub async fn link_page(
    state: web::Data<AppState>,
    page: PageCtx,
    query: web::Query<LinkQuery>,
) -> Result<HttpResponse, AppError> {
    let token = query.jeton.clone();
    let now = page.now;
    let checked = state
        .db(move |conn| Ok(links::check(conn, &token, now)?))
        .await?;
    match checked {
        Ok(email) => {
            let mut context = page.context();
            context.insert("email", &email);
            context.insert("jeton", &query.jeton);
            state.render("auth/link_confirm.html", context)
        }
        Err(error) => link_error_page(&state, &page, &error),
    }
}

#[derive(serde::Deserialize)]
pub struct UseLink {
    #[serde(default)]
    jeton: String,
}

/// `POST /connexion/lien`: uses the link once and opens the session.
pub async fn use_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    page: PageCtx,
    form: web::Form<UseLink>,
) -> Result<HttpResponse, AppError> {
    let token = form.jeton.clone();
    let ip = client_ip_text(&req, &state);
    let now = page.now;
    let consumed = state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                let consumed = links::consume(conn, &token, &ip, now)?;
                if let Ok(email) = &consumed {
                    events::record(conn, now, email, "auth.sign_in", ("person", email), None)?;
                }
                Ok(consumed)
            })
        })
        .await?;
    match consumed {
        Ok(email) => {
            page.sign_in(&email)?;
            Ok(see_other("/"))
        }
        Err(error) => link_error_page(&state, &page, &error),
    }
}

/// `POST /deconnexion`: ends the local session; a ProConnect session then goes on to
/// ProConnect's end-session endpoint.
pub async fn sign_out(state: web::Data<AppState>, page: PageCtx) -> Result<HttpResponse, AppError> {
    let (method, id_token) = page.sign_in_method();
    if let Some(user) = page.user.clone() {
        let now = page.now;
        state
            .db(move |conn| {
                Ok(events::record(
                    conn,
                    now,
                    &user.email,
                    "auth.sign_out",
                    ("person", &user.email),
                    None,
                )?)
            })
            .await?;
    }
    if let (Some(SignInMethod::ProConnect), Some(id_token)) = (method, id_token) {
        // A new, empty session (the old id is dropped), which only remembers the logout state.
        page.session.renew();
        page.session.clear();
        let location = sign_in::end_session_redirect(&state, &page, &id_token).await;
        return Ok(see_other(&location));
    }
    page.sign_out();
    Ok(see_other("/connexion"))
}
