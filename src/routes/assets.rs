//! Static files: the project's own (embedded) and the unpacked DSFR.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::assets::OwnStatic;
use crate::error::{AppError, error_page};
use crate::state::AppState;

/// `GET /static/{path}`: a file of the project's `static/` folder.
pub async fn own(path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let file = OwnStatic::get(&path).ok_or(AppError::NotFound)?;
    let mime = mime_guess::from_path(&path).first_or_octet_stream();
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, mime.to_string()))
        .insert_header((CACHE_CONTROL, "public, max-age=3600"))
        .body(file.data.into_owned()))
}

/// `GET /static/dsfr/{path}`: a file of the unpacked DSFR `dist/` folder.
pub async fn dsfr(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let relative = std::path::Path::new(path.as_str());
    if relative
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(AppError::NotFound);
    }
    let full = state.dsfr_dir.join(relative);
    let file = web::block(move || actix_files::NamedFile::open(full))
        .await?
        .map_err(|_| AppError::NotFound)?;
    let mut response = file.into_response(&req);
    response.headers_mut().insert(
        CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("public, max-age=86400"),
    );
    Ok(response)
}

/// Any unknown route: a French 404 page.
pub async fn not_found(req: actix_web::HttpRequest) -> HttpResponse {
    // The éditeur API answers in JSON, even for a path it does not know.
    if req.path().starts_with("/api/") {
        return HttpResponse::build(StatusCode::NOT_FOUND).json(serde_json::json!({
            "error": "route_inconnue",
            "message": "Cette adresse n'existe pas dans l'API : voir /api/v1/openapi.json.",
        }));
    }
    HttpResponse::build(StatusCode::NOT_FOUND)
        .content_type("text/html; charset=utf-8")
        .body(error_page(
            StatusCode::NOT_FOUND,
            "Page introuvable",
            "La page demandée n'existe pas ou vous n'y avez pas accès.",
        ))
}
