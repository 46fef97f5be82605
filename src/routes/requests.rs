//! `GET /demandes/{id}`: the page of one habilitation request (built in
//! `shared::request_page`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::shared::request_page;
use crate::auth::PageCtx;
use crate::error::AppError;
use crate::state::AppState;

/// `GET /demandes/{id}`: 404 for anyone who may not see it.
pub async fn show(
    state: web::Data<AppState>,
    page: PageCtx,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    request_page::render_show(&state, &page, &path.into_inner(), StatusCode::OK, None).await
}
