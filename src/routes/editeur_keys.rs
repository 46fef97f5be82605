//! Admins manage an éditeur's API keys from its page (`/editeurs/{id}`): create one (shown
//! once) and revoke one after confirmation. Members do the same in `/editeur`.

use actix_web::{HttpResponse, web};

use super::{render_confirm, see_other};
use crate::auth::Admin;
use crate::error::AppError;
use crate::models::{api_keys, editeurs};
use crate::state::AppState;

route_table! {
    post "/editeurs/{id}/cles" => create,
    get "/editeurs/{id}/cles/{key}/revoquer" => confirm_revoke,
    post "/editeurs/{id}/cles/{key}/revoquer" => revoke,
}

/// The new key form.
#[derive(Debug, Default, serde::Deserialize)]
pub struct NewKey {
    #[serde(default)]
    name: String,
}

/// `POST /editeurs/{id}/cles` (admin).
pub async fn create(
    state: web::Data<AppState>,
    Admin { page, user }: Admin,
    path: web::Path<String>,
    form: web::Form<NewKey>,
) -> Result<HttpResponse, AppError> {
    let admin = user.email;
    let id = path.into_inner();
    let name = api_keys::clean_name(&form.name).map_err(AppError::BadRequest)?;
    let random = crate::auth::random_hex(32)?;
    let now = page.now;
    let key_name = name.clone();
    let (editeur, key) = state
        .db(move |conn| {
            let editeur = editeurs::find(conn, &id)?.ok_or(AppError::NotFound)?;
            let (_, key) = crate::db::transaction(conn, |conn| {
                api_keys::create(conn, &editeur.id, &key_name, &random, &admin, now)
            })?;
            Ok((editeur, key))
        })
        .await?;
    let mut context = page.context();
    context.insert("editeur", &editeur);
    context.insert("name", &name);
    context.insert("key", &key);
    state.render("editeur/admin_key.html", context)
}

/// `GET /editeurs/{id}/cles/{key}/revoquer` (admin).
pub async fn confirm_revoke(
    state: web::Data<AppState>,
    Admin { page, .. }: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, key_id) = path.into_inner();
    let lookup = id.clone();
    let key = state
        .db(move |conn| api_keys::find(conn, &lookup, &key_id)?.ok_or(AppError::NotFound))
        .await?;
    render_confirm(
        &state,
        &page,
        &format!("Révoquer la clé « {} » ({}…) ?", key.name, key.key_prefix),
        "Tout logiciel de l'éditeur qui l'utilise recevra aussitôt une erreur 401. Cette action est définitive.",
        &format!("/editeurs/{id}/cles/{}/revoquer", key.id),
        &format!("/editeurs/{id}"),
    )
}

/// `POST /editeurs/{id}/cles/{key}/revoquer` (admin).
pub async fn revoke(
    state: web::Data<AppState>,
    Admin { page, user }: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let admin = user.email;
    let (id, key_id) = path.into_inner();
    let editeur = id.clone();
    let now = page.now;
    state
        .db(move |conn| {
            api_keys::find(conn, &editeur, &key_id)?.ok_or(AppError::NotFound)?;
            Ok(api_keys::revoke(conn, &editeur, &key_id, &admin, now)?)
        })
        .await?;
    Ok(see_other(&format!("/editeurs/{id}")))
}
