//! The éditeur space (`/editeur`), for an éditeur's members: its clients in one table (quick
//! views, search, sort by expiry, pages), per client the links to its form, URL builder, QR
//! code and kit; its pre-filled DataPass forms; its API keys (created with a name and shown
//! once, revoked after confirmation). A member of several éditeurs picks one (`?editeur=`).

use actix_web::{HttpResponse, web};

use super::{render_confirm, see_other};
use crate::auth::{Identity, PageCtx};
use crate::error::AppError;
use crate::models::api_keys;
use crate::models::editeur_clients::{self, ClientFilter, View};
use crate::models::editeurs;
use crate::state::AppState;

route_table! {
    get "/editeur" => home,
    get "/editeur/clients.csv" => csv_export,
    post "/editeur/cles" => create_key,
    get "/editeur/cles/{id}/revoquer" => confirm_revoke,
    post "/editeur/cles/{id}/revoquer" => revoke_key,
}

/// Clients per page.
pub const PER_PAGE: i64 = 25;

/// Query string of the space.
#[derive(Debug, Default, serde::Deserialize)]
pub struct SpaceQuery {
    #[serde(default)]
    editeur: Option<String>,
    #[serde(default)]
    vue: String,
    #[serde(default)]
    q: String,
    /// `expiration` sorts by token expiry, soonest first; otherwise SIRET order.
    #[serde(default)]
    tri: String,
    /// SIRET order: the last SIRET of the previous page.
    #[serde(default)]
    apres: Option<String>,
    /// Expiry order: 1-based page.
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    succes: String,
}

/// The fields of the new key form.
#[derive(Debug, Default, serde::Deserialize)]
pub struct NewKeyForm {
    #[serde(default)]
    editeur: Option<String>,
    #[serde(default)]
    name: String,
}

/// The éditeur the member acts for: the one asked for if theirs, else their first.
fn editeur_for(user: &Identity, asked: Option<&str>) -> Result<String, AppError> {
    if !user.is_editeur {
        return Err(AppError::Forbidden(
            "Cet espace est réservé aux membres d'un éditeur de logiciel.".into(),
        ));
    }
    match asked.map(str::trim).filter(|a| !a.is_empty()) {
        Some(id) if user.editeur_ids.iter().any(|e| e == id) => Ok(id.to_owned()),
        Some(_) => Err(AppError::NotFound),
        None => user.editeur_ids.first().cloned().ok_or(AppError::NotFound),
    }
}

/// What a page of the space shows besides the clients.
struct Extra<'a> {
    new_key: Option<(&'a str, &'a str)>,
    key_error: Option<&'a str>,
    key_name: &'a str,
}

async fn render(
    state: &AppState,
    page: &PageCtx,
    editeur_id: String,
    query: &SpaceQuery,
    extra: Extra<'_>,
) -> Result<HttpResponse, AppError> {
    let view = View::from_code(query.vue.trim());
    let filter = ClientFilter {
        view,
        search: query.q.trim().to_owned(),
        ..ClientFilter::default()
    };
    let by_expiry = query.tri == "expiration";
    let after = query
        .apres
        .clone()
        .filter(|a| a.len() == 14 && a.bytes().all(|b| b.is_ascii_digit()));
    let page_number = query
        .page
        .as_deref()
        .and_then(|p| p.trim().parse::<i64>().ok())
        .unwrap_or(1)
        .max(1);
    let base = state.settings.form_base_url.clone();
    let today = crate::domain::calendar::paris_date(page.now);
    let id = editeur_id.clone();
    let cache = state.editeur_clients.clone();
    let kept = state.pages.clone();
    let (editeur, clients, next, total_pages, forms, keys) = state
        .db(move |conn| {
            let editeur = editeurs::find(conn, &id)?.ok_or(AppError::NotFound)?;
            let (clients, next, pages) = if by_expiry {
                // Expiry order: the éditeur's filtered clients sorted in memory (bounded by
                // its own clients), then cut into pages.
                let mut all = editeur_clients::all(conn, &id, &filter, today, &base, &cache)?;
                all.sort_by(|a, b| {
                    (a.token_expires_on.is_none(), a.token_expires_on, &a.siret).cmp(&(
                        b.token_expires_on.is_none(),
                        b.token_expires_on,
                        &b.siret,
                    ))
                });
                let pages = crate::db::page_count(all.len() as i64, PER_PAGE);
                let start = ((page_number - 1) * PER_PAGE) as usize;
                let rows: Vec<_> = all
                    .into_iter()
                    .skip(start)
                    .take(PER_PAGE as usize)
                    .collect();
                (ClientRows::Sorted(rows), None, Some(pages))
            } else {
                let today_key = today.to_string();
                let key = crate::models::result_cache::key(
                    "editeur-clients",
                    &[
                        &id,
                        &format!("{filter:?}"),
                        after.as_deref().unwrap_or_default(),
                        &today_key,
                    ],
                );
                let page = kept.editeur_clients.get_or_compute(conn, key, |conn| {
                    editeur_clients::page(
                        conn,
                        &id,
                        &filter,
                        after.as_deref(),
                        PER_PAGE,
                        today,
                        &base,
                        &cache,
                    )
                    .map(crate::state::Kept::new)
                })?;
                let next = page.page.next_cursor.clone();
                (ClientRows::Kept(page), next, None)
            };
            let forms = editeurs::forms(conn, &id)?;
            let keys = api_keys::for_editeur(conn, &id)?;
            Ok((editeur, clients, next, pages, forms, keys))
        })
        .await?;
    let mut choices = Vec::new();
    if let Some(user) = &page.user
        && user.editeur_ids.len() > 1
    {
        let ids = user.editeur_ids.clone();
        choices = state
            .db(move |conn| {
                let mut out = Vec::new();
                for id in ids {
                    if let Some(e) = editeurs::find(conn, &id)? {
                        out.push((e.id, e.name));
                    }
                }
                Ok(out)
            })
            .await?;
    }
    let mut context = page.context();
    context.insert("editeur", &editeur);
    context.insert("editeur_choices", &choices);
    context.insert("has_clients", &!clients.is_empty());
    context.insert("client_rows", &clients.html(state)?);
    context.insert("next_cursor", &next);
    context.insert("total_pages", &total_pages);
    context.insert("page_number", &page_number);
    context.insert("forms", &forms);
    context.insert("keys", &keys);
    context.insert(
        "views",
        &View::ALL
            .iter()
            .map(|v| (v.code(), v.label_fr()))
            .collect::<Vec<_>>(),
    );
    context.insert("vue", &view.map(View::code).unwrap_or_default());
    context.insert("q", query.q.trim());
    context.insert("tri", &if by_expiry { "expiration" } else { "siret" });
    context.insert("new_key", &extra.new_key);
    context.insert("key_error", &extra.key_error);
    context.insert("key_name", extra.key_name);
    context.insert(
        "notice",
        &match query.succes.as_str() {
            "cle-revoquee" => Some("Clé révoquée : elle ne permet plus d'appeler l'API."),
            _ => None,
        },
    );
    let status = if extra.key_error.is_some() {
        actix_web::http::StatusCode::BAD_REQUEST
    } else {
        actix_web::http::StatusCode::OK
    };
    state.render_status(status, "editeur/space.html", context)
}

/// `GET /editeur`.
pub async fn home(
    state: web::Data<AppState>,
    page: PageCtx,
    query: web::Query<SpaceQuery>,
) -> Result<HttpResponse, AppError> {
    let user = page.user()?.clone();
    let editeur_id = editeur_for(&user, query.editeur.as_deref())?;
    render(
        &state,
        &page,
        editeur_id,
        &query,
        Extra {
            new_key: None,
            key_error: None,
            key_name: "",
        },
    )
    .await
}

/// `GET /editeur/clients.csv`: the clients of the current view and search, as the API's CSV.
pub async fn csv_export(
    state: web::Data<AppState>,
    page: PageCtx,
    query: web::Query<SpaceQuery>,
) -> Result<HttpResponse, AppError> {
    let user = page.user()?.clone();
    let editeur_id = editeur_for(&user, query.editeur.as_deref())?;
    let filter = ClientFilter {
        view: View::from_code(query.vue.trim()),
        search: query.q.trim().to_owned(),
        ..ClientFilter::default()
    };
    let base = state.settings.form_base_url.clone();
    let today = crate::domain::calendar::paris_date(page.now);
    let cache = state.editeur_clients.clone();
    let rows = state
        .db(move |conn| {
            Ok(editeur_clients::all(
                conn,
                &editeur_id,
                &filter,
                today,
                &base,
                &cache,
            )?)
        })
        .await?;
    let body = super::shared::csv::clients_to_csv(&rows)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("CSV : {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            "attachment; filename=\"clients.csv\"",
        ))
        .body(body))
}

/// `POST /editeur/cles`: creates a key and shows it, once, on the answer page.
pub async fn create_key(
    state: web::Data<AppState>,
    page: PageCtx,
    form: web::Form<NewKeyForm>,
) -> Result<HttpResponse, AppError> {
    let user = page.user()?.clone();
    let editeur_id = editeur_for(&user, form.editeur.as_deref())?;
    let query = SpaceQuery::default();
    let name = match api_keys::clean_name(&form.name) {
        Ok(name) => name,
        Err(message) => {
            return render(
                &state,
                &page,
                editeur_id,
                &query,
                Extra {
                    new_key: None,
                    key_error: Some(&message),
                    key_name: &form.name,
                },
            )
            .await;
        }
    };
    let random = crate::auth::random_hex(32)?;
    let id = editeur_id.clone();
    let by = user.email.clone();
    let now = page.now;
    let key_name = name.clone();
    let (_, key) = state
        .db(move |conn| {
            Ok(crate::db::transaction(conn, |conn| {
                api_keys::create(conn, &id, &key_name, &random, &by, now)
            })?)
        })
        .await?;
    render(
        &state,
        &page,
        editeur_id,
        &query,
        Extra {
            new_key: Some((&name, &key)),
            key_error: None,
            key_name: "",
        },
    )
    .await
}

/// The key `id` of one of the member's éditeurs, with that éditeur's id.
async fn member_key(
    state: &AppState,
    user: &Identity,
    id: String,
) -> Result<(String, api_keys::ApiKey), AppError> {
    if !user.is_editeur {
        return Err(AppError::Forbidden(
            "Cet espace est réservé aux membres d'un éditeur de logiciel.".into(),
        ));
    }
    let ids = user.editeur_ids.clone();
    state
        .db(move |conn| {
            for editeur_id in ids {
                if let Some(key) = api_keys::find(conn, &editeur_id, &id)? {
                    return Ok((editeur_id, key));
                }
            }
            Err(AppError::NotFound)
        })
        .await
}

/// `GET /editeur/cles/{id}/revoquer`: asks for confirmation.
pub async fn confirm_revoke(
    state: web::Data<AppState>,
    page: PageCtx,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let user = page.user()?.clone();
    let (editeur_id, key) = member_key(&state, &user, path.into_inner()).await?;
    if key.revoked_at.is_some() {
        return Ok(see_other(&format!("/editeur?editeur={editeur_id}")));
    }
    render_confirm(
        &state,
        &page,
        &format!("Révoquer la clé « {} » ({}…) ?", key.name, key.key_prefix),
        "Tout logiciel qui l'utilise recevra aussitôt une erreur 401. Cette action est définitive : pour rétablir l'accès, créez une nouvelle clé.",
        &format!("/editeur/cles/{}/revoquer", key.id),
        &format!("/editeur?editeur={editeur_id}"),
    )
}

/// `POST /editeur/cles/{id}/revoquer`.
pub async fn revoke_key(
    state: web::Data<AppState>,
    page: PageCtx,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let user = page.user()?.clone();
    let (editeur_id, key) = member_key(&state, &user, path.into_inner()).await?;
    let id = editeur_id.clone();
    let by = user.email.clone();
    let now = page.now;
    state
        .db(move |conn| Ok(api_keys::revoke(conn, &id, &key.id, &by, now)?))
        .await?;
    Ok(see_other(&format!(
        "/editeur?editeur={editeur_id}&succes=cle-revoquee"
    )))
}

/// The client rows a view shows: a kept page's, shared with the cache with their HTML, or
/// those sorted for this view.
enum ClientRows {
    Kept(std::sync::Arc<crate::state::Kept<editeur_clients::ClientPage>>),
    Sorted(Vec<editeur_clients::ClientRow>),
}

impl ClientRows {
    fn is_empty(&self) -> bool {
        match self {
            ClientRows::Kept(kept) => kept.page.items.is_empty(),
            ClientRows::Sorted(rows) => rows.is_empty(),
        }
    }

    /// The table's rows: rendered once per kept page (see `state::Kept`), or now for a page
    /// sorted by expiry.
    fn html<'a>(&'a self, state: &AppState) -> Result<std::borrow::Cow<'a, str>, AppError> {
        const TEMPLATE: &str = "editeur/space_rows.html";
        match self {
            ClientRows::Kept(kept) => Ok(state.kept_rows(kept, TEMPLATE, "clients")?.into()),
            ClientRows::Sorted(rows) => {
                let mut context = tera::Context::new();
                context.insert("clients", &serde_json::json!({ "items": rows }));
                Ok(state.tera.render(TEMPLATE, &context)?.into())
            }
        }
    }
}
