//! CSRF protection: every state-changing request from a page must carry the session's token,
//! as the `csrf_token` form field, the `csrf_token` query parameter (multipart forms) or the
//! `X-CSRF-Token` header. Only the DataPass webhook, authenticated by its signature, is exempt.

use actix_session::SessionExt;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use subtle::ConstantTimeEq;

use super::SESSION_CSRF;
use crate::error::error_page;

/// Form field and query parameter carrying the token.
pub const FIELD: &str = "csrf_token";
/// Header carrying the token.
pub const HEADER: &str = "X-CSRF-Token";
/// Largest form body read to find the token.
const MAX_FORM_BYTES: usize = 1 << 20;

/// The one POST authenticated otherwise: DataPass signs its webhook (`X-Hub-Signature-256`).
pub const EXEMPT_POST: &str = "/webhooks/datapass";

fn exempt(req: &ServiceRequest) -> bool {
    matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        || (*req.method() == Method::POST && req.path() == EXEMPT_POST)
}

fn from_pairs(text: &str) -> Option<String> {
    url::form_urlencoded::parse(text.as_bytes())
        .find(|(k, _)| k == FIELD)
        .map(|(_, v)| v.into_owned())
}

/// The middleware.
pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if exempt(&req) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    let expected = req.get_session().get::<String>(SESSION_CSRF).ok().flatten();
    let mut provided = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| from_pairs(req.query_string()));
    let is_form = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if provided.is_none() && is_form {
        let body = req
            .extract::<web::Bytes>()
            .await
            .map_err(|_| actix_web::error::ErrorPayloadTooLarge("formulaire trop volumineux"))?;
        if body.len() <= MAX_FORM_BYTES {
            provided = from_pairs(&String::from_utf8_lossy(&body));
        }
        req.set_payload(Payload::from(body));
    }
    let valid = match (expected, provided) {
        (Some(expected), Some(provided)) => {
            expected.len() == provided.len()
                && bool::from(expected.as_bytes().ct_eq(provided.as_bytes()))
        }
        _ => false,
    };
    if !valid {
        let response = HttpResponse::build(StatusCode::FORBIDDEN)
            .content_type("text/html; charset=utf-8")
            .body(error_page(
                StatusCode::FORBIDDEN,
                "Formulaire expiré",
                "Le jeton de sécurité du formulaire est absent ou périmé : rien n'a été enregistré. Revenez à la page précédente, rechargez-la et recommencez.",
            ));
        return Ok(req.into_response(response));
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}
