//! A collectivité's form address, QR code and kit de communication, by SIRET.
//!
//! - The QR code images are public (the address they hold is public): no sign-in, cached a
//!   day by browsers and proxies.
//! - The kit page, the kit files and the éditeur URL builder are for staff, the
//!   collectivité's contacts and its éditeurs ([`access::collectivite_visible`]); 404 for
//!   anyone else, the sign-in page for anonymous visitors.
//!
//! An unknown or malformed SIRET is a 404 everywhere. Generating images, PDF and ZIP is CPU
//! work and runs on the blocking pool.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::{Identity, PageCtx};
use crate::domain::form_url::{FormUrlError, editeur_url, form_url};
use crate::domain::siret::Siret;
use crate::error::AppError;
use crate::kit::{self, KitFile, KitSubject};
use crate::models::access;
use crate::models::collectivites::{self, Collectivite};
use crate::qr::{self, QrFormat};
use crate::state::AppState;

route_table! {
    get "/collectivites/{siret}/qrcode.png" => qr_png,
    get "/collectivites/{siret}/qrcode.jpg" => qr_jpeg,
    get "/collectivites/{siret}/qrcode.svg" => qr_svg,
    get "/collectivites/{siret}/kit" => page,
    get "/collectivites/{siret}/kit.zip" => kit_zip,
    get "/collectivites/{siret}/kit/{file}" => kit_file,
    get "/collectivites/{siret}/url-editeur" => url_editeur,
}

/// How long browsers and proxies may keep a QR code image.
const QR_CACHE_CONTROL: &str = "public, max-age=86400";
/// Kit files are for signed-in people: never kept by shared caches.
const KIT_CACHE_CONTROL: &str = "private, no-cache";

/// The collectivité with this SIRET, or 404 (malformed or unknown SIRET).
async fn find(state: &AppState, raw: &str) -> Result<(Siret, Collectivite), AppError> {
    let siret = Siret::parse(raw).map_err(|_| AppError::NotFound)?;
    let key = siret.as_str().to_owned();
    let collectivite = state
        .db(move |conn| Ok(collectivites::find_by_sirets(conn, &[key])?))
        .await?
        .into_iter()
        .next()
        .ok_or(AppError::NotFound)?;
    Ok((siret, collectivite))
}

/// The collectivité with this SIRET if the signed-in person may get its kit: the sign-in
/// page for anonymous visitors, 404 for others and for unknown SIRETs.
async fn find_for(
    state: &AppState,
    user: &Identity,
    raw: &str,
) -> Result<(Siret, Collectivite), AppError> {
    let (siret, collectivite) = find(state, raw).await?;
    let user = user.clone();
    let id = collectivite.id.clone();
    let visible = state
        .db(move |conn| Ok(access::collectivite_visible(conn, &user, &id)?))
        .await?;
    if !visible {
        return Err(AppError::NotFound);
    }
    Ok((siret, collectivite))
}

fn subject(state: &AppState, siret: &Siret, collectivite: &Collectivite) -> KitSubject {
    KitSubject {
        name: collectivite.name.clone(),
        siret: siret.as_str().to_owned(),
        form_url: form_url(&state.settings.form_base_url, siret),
    }
}

/// A file download.
fn download(bytes: Vec<u8>, content_type: &str, file_name: &str, cache: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type.to_owned())
        .insert_header((
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        ))
        .insert_header((CACHE_CONTROL, cache.to_owned()))
        .body(bytes)
}

fn generation_failed(error: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("génération du kit : {error}"))
}

async fn qr_image(
    state: web::Data<AppState>,
    path: web::Path<String>,
    format: QrFormat,
) -> Result<HttpResponse, AppError> {
    let (siret, _) = find(&state, &path.into_inner()).await?;
    let url = form_url(&state.settings.form_base_url, &siret);
    // Rendered once per exact input (see `qr::render_cached`); a hit skips the blocking pool.
    let file = match qr::cached(&url, format) {
        Some(hit) => hit,
        None => web::block(move || qr::render_cached(&url, format))
            .await?
            .map_err(generation_failed)?,
    };
    Ok(download(
        file.as_ref().clone(),
        format.content_type(),
        &format.file_name(siret.as_str()),
        QR_CACHE_CONTROL,
    ))
}

/// `GET /collectivites/{siret}/qrcode.png` (public).
pub async fn qr_png(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    qr_image(state, path, QrFormat::Png).await
}

/// `GET /collectivites/{siret}/qrcode.jpg` (public).
pub async fn qr_jpeg(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    qr_image(state, path, QrFormat::Jpeg).await
}

/// `GET /collectivites/{siret}/qrcode.svg` (public).
pub async fn qr_svg(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    qr_image(state, path, QrFormat::Svg).await
}

/// `GET /collectivites/{siret}/kit/{file}`: one file of the kit, by its name in the ZIP.
pub async fn kit_file(
    state: web::Data<AppState>,
    page: PageCtx,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (raw, name) = path.into_inner();
    let (siret, collectivite) = find_for(&state, page.user()?, &raw).await?;
    let which = KitFile::from_file_name(&name, siret.as_str()).ok_or(AppError::NotFound)?;
    let subject = subject(&state, &siret, &collectivite);
    let shared = state.clone();
    let bytes = web::block(move || kit::file(&shared.tera, &subject, which))
        .await?
        .map_err(generation_failed)?;
    Ok(download(
        bytes,
        which.content_type(),
        &which.file_name(siret.as_str()),
        KIT_CACHE_CONTROL,
    ))
}

/// `GET /collectivites/{siret}/kit.zip`: the whole kit, `kit_<SIRET>.zip`.
pub async fn kit_zip(
    state: web::Data<AppState>,
    page: PageCtx,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (siret, collectivite) = find_for(&state, page.user()?, &path.into_inner()).await?;
    let subject = subject(&state, &siret, &collectivite);
    let shared = state.clone();
    let bytes = web::block(move || kit::zip(&shared.tera, &subject))
        .await?
        .map_err(generation_failed)?;
    Ok(download(
        bytes,
        "application/zip",
        &kit::zip_name(siret.as_str()),
        KIT_CACHE_CONTROL,
    ))
}

/// The éditeur URL parameters of a query string, each `None` when absent.
#[derive(Debug, Default, PartialEq, Eq)]
struct BuilderParams {
    external_id: Option<String>,
    redirect_uri: Option<String>,
}

/// Reads `external_id` and `redirect_uri` from a query string; a parameter given twice is
/// refused (which one would be meant?). Other parameters are ignored.
fn builder_params(query: &str) -> Result<BuilderParams, (&'static str, String)> {
    let mut params = BuilderParams::default();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let slot = match key.as_ref() {
            "external_id" => &mut params.external_id,
            "redirect_uri" => &mut params.redirect_uri,
            _ => continue,
        };
        if slot.is_some() {
            return Err((
                "duplicate_parameter",
                format!("Le paramètre {key} est donné plusieurs fois : donnez-le une seule fois."),
            ));
        }
        *slot = Some(value.into_owned());
    }
    Ok(params)
}

/// `GET /collectivites/{siret}/url-editeur?external_id=…&redirect_uri=…`: the éditeur URL as
/// JSON, `{"url": …}`, or 400 `{"error": <code>, "message": <français>}`.
pub async fn url_editeur(
    state: web::Data<AppState>,
    page: PageCtx,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let (siret, _) = find_for(&state, page.user()?, &path.into_inner()).await?;
    let bad = |code: &str, message: String| {
        HttpResponse::BadRequest().json(serde_json::json!({"error": code, "message": message}))
    };
    let params = match builder_params(req.query_string()) {
        Ok(params) => params,
        Err((code, message)) => return Ok(bad(code, message)),
    };
    let built = editeur_url(
        &state.settings.form_base_url,
        &siret,
        params.external_id.as_deref(),
        params.redirect_uri.as_deref(),
        state.settings.form_allow_http_localhost_redirect,
    );
    Ok(match built {
        Ok(url) => HttpResponse::Ok().json(serde_json::json!({ "url": url })),
        Err(error) => bad(error.code(), error.to_string()),
    })
}

/// `GET /collectivites/{siret}/kit`: the form address, the QR code, the kit and the éditeur
/// URL builder (a GET form on this page).
pub async fn page(
    state: web::Data<AppState>,
    page: PageCtx,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let user = page.user()?;
    let (siret, collectivite) = find_for(&state, user, &path.into_inner()).await?;
    let subject = subject(&state, &siret, &collectivite);
    let shared = state.clone();
    let texts_for = subject.clone();
    let (site_html, site_text, email) = web::block(move || {
        Ok::<_, kit::KitError>((
            kit::site_html(&shared.tera, &texts_for)?,
            kit::site_text(&shared.tera, &texts_for)?,
            kit::email(&shared.tera, &texts_for)?,
        ))
    })
    .await?
    .map_err(generation_failed)?;

    // The builder: empty fields count as not given.
    let (params, built) = match builder_params(req.query_string()) {
        Ok(params) => {
            let params = BuilderParams {
                external_id: params.external_id.filter(|v| !v.is_empty()),
                redirect_uri: params.redirect_uri.filter(|v| !v.is_empty()),
            };
            let built =
                (params.external_id.is_some() || params.redirect_uri.is_some()).then(|| {
                    editeur_url(
                        &state.settings.form_base_url,
                        &siret,
                        params.external_id.as_deref(),
                        params.redirect_uri.as_deref(),
                        state.settings.form_allow_http_localhost_redirect,
                    )
                    .map_err(|e: FormUrlError| e.to_string())
                });
            (params, built)
        }
        Err((_, message)) => (BuilderParams::default(), Some(Err(message))),
    };
    let status = match built {
        Some(Err(_)) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };

    let form_api = state.form.can_activate();
    let collectivite_id = collectivite.id.clone();
    let form_state = state
        .db(move |conn| {
            Ok(crate::provisioning::form_state(
                conn,
                &collectivite_id,
                form_api,
            )?)
        })
        .await?;
    let mut context = page.context();
    context.insert("form_state", &form_state);
    context.insert("collectivite", &collectivite);
    context.insert("siret", siret.as_str());
    context.insert("form_url", &subject.form_url);
    context.insert(
        "qr_files",
        &[QrFormat::Png, QrFormat::Jpeg, QrFormat::Svg]
            .iter()
            .map(|f| {
                serde_json::json!({
                    "extension": f.extension(),
                    "label": f.extension().to_uppercase(),
                    "file_name": f.file_name(siret.as_str()),
                })
            })
            .collect::<Vec<_>>(),
    );
    context.insert("zip_name", &kit::zip_name(siret.as_str()));
    context.insert("site_html", &site_html);
    context.insert("site_text", &site_text);
    context.insert("email", &email);
    context.insert("external_id", &params.external_id);
    context.insert("redirect_uri", &params.redirect_uri);
    context.insert("built_url", &built.as_ref().and_then(|b| b.as_ref().ok()));
    context.insert(
        "builder_error",
        &built.as_ref().and_then(|b| b.as_ref().err()),
    );
    context.insert(
        "allow_http_localhost",
        &state.settings.form_allow_http_localhost_redirect,
    );
    state.render_status(status, "kit/show.html", context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_parameters() {
        assert_eq!(builder_params(""), Ok(BuilderParams::default()));
        assert_eq!(
            builder_params("external_id=a%20b&redirect_uri=&autre=1"),
            Ok(BuilderParams {
                external_id: Some("a b".into()),
                redirect_uri: Some(String::new()),
            })
        );
        let (code, message) = builder_params("external_id=a&external_id=b").unwrap_err();
        assert_eq!(code, "duplicate_parameter");
        assert!(message.contains("external_id"), "{message}");
    }
}
