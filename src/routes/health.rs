//! `GET /health`: is the service up and its database reachable.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

/// 200 `{"status":"ok","database":"ok"}`, or 503 when the database does not answer.
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.pool.clone();
    let outcome = web::block(move || -> Result<(), String> {
        let mut conn = pool
            .get_timeout(Duration::from_secs(3))
            .map_err(|e| e.to_string())?;
        crate::db::ping(&mut conn).map_err(|e| e.to_string())
    })
    .await;
    match outcome {
        Ok(Ok(())) => HttpResponse::Ok().json(json!({"status": "ok", "database": "ok"})),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "contrôle de santé : base de données injoignable");
            HttpResponse::ServiceUnavailable()
                .json(json!({"status": "error", "database": "unreachable"}))
        }
        Err(_) => HttpResponse::ServiceUnavailable()
            .json(json!({"status": "error", "database": "unknown"})),
    }
}
