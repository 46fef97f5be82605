//! The DataPass webhook: signature first, then the payload, every delivery logged.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::db::DatabaseLocation;
use crate::error::AppError;
use crate::instruction::datapass::{self, receive};
use crate::state::AppState;

/// `POST /webhooks/datapass`: signature first (401), then the payload (400/422/200).
pub async fn datapass_webhook(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(secret) = state.settings.datapass_webhook_secret.clone() else {
        tracing::warn!("webhook DataPass reçu, mais DATAPASS_WEBHOOK_SECRET n'est pas défini");
        return HttpResponse::Unauthorized().json(json!({
            "error": "webhook_not_configured",
            "message": "DATAPASS_WEBHOOK_SECRET n'est pas configuré"
        }));
    };
    let signature = req
        .headers()
        .get("X-Hub-Signature-256")
        .and_then(|v| v.to_str().ok());
    if !datapass::signature_valid(secret.expose().as_bytes(), &body, signature) {
        tracing::warn!(
            peer = ?req.peer_addr(),
            present = signature.is_some(),
            "webhook DataPass : signature absente ou invalide"
        );
        return HttpResponse::Unauthorized().json(json!({
            "error": "invalid_signature",
            "message": "signature X-Hub-Signature-256 absente ou invalide"
        }));
    }
    let now = crate::db::now();
    // SQLite has one writer: deliveries queue for it and share commits. PostgreSQL's writers
    // run side by side, each delivery in its own transaction.
    let outcome = match state.settings.database {
        DatabaseLocation::Sqlite(_) => state
            .ingest
            .receive(body, now)
            .await
            .map_err(|e| AppError::Internal(e.into())),
        DatabaseLocation::Postgres(_) => state.db(move |conn| Ok(receive(conn, &body, now)?)).await,
    };
    match outcome {
        Ok(processed) => {
            if processed.mail_queued {
                state.mailer.notify_jobs();
            }
            HttpResponse::build(
                StatusCode::from_u16(processed.answer.status)
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            )
            .json(processed.answer.body)
        }
        Err(e) => {
            tracing::error!(error = %e, "webhook DataPass : échec");
            HttpResponse::InternalServerError()
                .json(json!({"error": "internal_error", "message": "erreur interne, réessayez"}))
        }
    }
}
