//! Éditeurs (staff): the list and creation, one éditeur's page (contact technique, APIs,
//! pre-filled forms, members, clients), editing it, adding and removing its forms.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::see_other;
use crate::auth::{PageCtx, Staff};
use crate::domain::siret::Siret;
use crate::error::AppError;
use crate::mail::{is_valid_address, normalize_address};
use crate::models::editeurs::{self, Editeur, EditeurForm, normalize_apis, valid_form_uid};
use crate::models::events;
use crate::state::AppState;

route_table! {
    get "/editeurs" => list,
    post "/editeurs" => create,
    get "/editeurs/{id}" => show,
    post "/editeurs/{id}/modifier" => update,
    post "/editeurs/{id}/formulaires" => add_form,
    get "/editeurs/{id}/formulaires/{form_id}/retirer" => confirm_remove_form,
    post "/editeurs/{id}/formulaires/{form_id}/retirer" => remove_form,
}

/// Longest name accepted for an éditeur or a form.
const MAX_NAME_CHARS: usize = 200;

/// Query string of the list.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ListParams {
    #[serde(default)]
    q: String,
}

/// The fields of the creation form, as typed.
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    siret: String,
    #[serde(default)]
    contact_technique_email: String,
    #[serde(default)]
    apis: String,
}

/// The fields of the edit form, as typed.
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct EditForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    contact_technique_email: String,
    #[serde(default)]
    apis: String,
}

/// The fields of the new pre-filled form, as typed.
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct NewFormForm {
    #[serde(default)]
    form_uid: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    public_url: String,
}

/// Query string of an éditeur's page: the notice after a redirect (`succes`), and the
/// search and cursor of its client list (`q`, `apres`).
#[derive(Debug, Default, serde::Deserialize)]
pub struct NoticeParams {
    #[serde(default)]
    succes: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    apres: String,
}

fn notice_text(code: &str) -> Option<&'static str> {
    match code {
        "cree" => Some("Éditeur créé."),
        "modifie" => Some("Modifications enregistrées."),
        "formulaire-ajoute" => Some("Formulaire pré-rempli ajouté."),
        "formulaire-retire" => Some("Formulaire pré-rempli retiré."),
        _ => None,
    }
}

/// Whitespace runs folded to one space; the name, or what is wrong with it.
fn clean_name(raw: &str, what: &str) -> Result<String, String> {
    let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        Err(format!("Le nom {what} est obligatoire."))
    } else if name.chars().count() > MAX_NAME_CHARS {
        Err(format!(
            "Le nom {what} ne doit pas dépasser {MAX_NAME_CHARS} caractères."
        ))
    } else {
        Ok(name)
    }
}

fn clean_contact(raw: &str) -> Result<String, String> {
    let email = normalize_address(raw);
    if is_valid_address(&email) {
        Ok(email)
    } else {
        Err("Adresse e-mail du contact technique invalide : saisissez une adresse complète, par exemple api@editeur.fr.".to_owned())
    }
}

fn clean_apis(raw: &str) -> Result<String, String> {
    normalize_apis(raw).map_err(|bad| {
        format!(
            "API « {bad} » invalide : séparez les API par des virgules et écrivez-les en lettres minuscules, chiffres et tirets bas (par exemple quotient_familial_v2)."
        )
    })
}

/// Collects every problem of a set of checks, or the checked values.
fn collect<T>(result: Result<T, String>, errors: &mut Vec<String>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

async fn render_list(
    state: &AppState,
    page: &PageCtx,
    status: StatusCode,
    q: &str,
    form: &CreateForm,
    errors: &[String],
) -> Result<HttpResponse, AppError> {
    let query = q.to_owned();
    let rows = state
        .db(move |conn| Ok(editeurs::list(conn, &query)?))
        .await?;
    let mut context = page.context();
    context.insert("editeurs", &rows);
    context.insert("q", q);
    context.insert("form", form);
    context.insert("errors", errors);
    state.render_status(status, "editeurs/list.html", context)
}

/// `GET /editeurs`.
pub async fn list(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, AppError> {
    render_list(
        &state,
        &page,
        StatusCode::OK,
        &params.q,
        &CreateForm::default(),
        &[],
    )
    .await
}

/// `POST /editeurs`: creates an éditeur; a SIRET already used is refused.
pub async fn create(
    state: web::Data<AppState>,
    Staff { page, user }: Staff,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let mut errors = Vec::new();
    let name = collect(clean_name(&form.name, "de l'éditeur"), &mut errors);
    let siret = collect(
        Siret::parse(&form.siret).map_err(|e| e.to_string()),
        &mut errors,
    );
    let contact = collect(clean_contact(&form.contact_technique_email), &mut errors);
    let apis = collect(clean_apis(&form.apis), &mut errors);
    let (Some(name), Some(siret), Some(contact), Some(apis)) = (name, siret, contact, apis) else {
        return render_list(&state, &page, StatusCode::BAD_REQUEST, "", &form, &errors).await;
    };
    let now = page.now;
    let outcome = state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                if let Some(existing) = editeurs::find_by_siret(conn, siret.as_str())? {
                    return Ok(Err(format!(
                        "Un éditeur avec le SIRET {} existe déjà : {}.",
                        siret, existing.name
                    )));
                }
                let editeur = Editeur {
                    id: crate::db::new_id(),
                    name,
                    siret: siret.as_str().to_owned(),
                    contact_technique_email: contact,
                    apis,
                    created_at: now,
                    updated_at: now,
                };
                editeurs::insert(conn, &editeur)?;
                events::record(
                    conn,
                    now,
                    &user.email,
                    "editeur.create",
                    ("editeur", &editeur.id),
                    Some(format!(
                        "{} (SIRET {}), contact technique {}",
                        editeur.name, editeur.siret, editeur.contact_technique_email
                    )),
                )?;
                Ok::<_, AppError>(Ok(editeur.id))
            })
        })
        .await?;
    match outcome {
        Ok(id) => Ok(see_other(&format!("/editeurs/{id}?succes=cree"))),
        Err(message) => {
            render_list(
                &state,
                &page,
                StatusCode::BAD_REQUEST,
                "",
                &form,
                &[message],
            )
            .await
        }
    }
}

/// What the éditeur page shows besides the éditeur: forms typed back, and their problems.
#[derive(Default)]
struct ShowForms<'a> {
    edit: Option<&'a EditForm>,
    edit_errors: &'a [String],
    new_form: Option<&'a NewFormForm>,
    new_form_errors: &'a [String],
    notice: Option<&'static str>,
    /// Search among the clients (collectivité name or SIRET).
    client_q: &'a str,
    /// The client page's cursor (request id of the previous page's last line).
    client_after: Option<&'a str>,
}

async fn render_show(
    state: &AppState,
    page: &PageCtx,
    status: StatusCode,
    id: &str,
    forms: ShowForms<'_>,
) -> Result<HttpResponse, AppError> {
    let id = id.to_owned();
    let client_q = forms.client_q.trim().to_owned();
    let client_after = forms.client_after.map(str::to_owned);
    let cache = state.editeur_clients.clone();
    let kept = state.pages.clone();
    let (editeur, prefilled, members, clients, keys) = state
        .db(move |conn| {
            let editeur = editeurs::find(conn, &id)?.ok_or(AppError::NotFound)?;
            let key = crate::models::result_cache::key(
                "editeur-requests",
                &[&id, &client_q, client_after.as_deref().unwrap_or_default()],
            );
            let clients = kept.editeur_requests.get_or_compute(conn, key, |conn| {
                editeurs::client_page(
                    conn,
                    &id,
                    &client_q,
                    client_after.as_deref(),
                    editeurs::CLIENTS_PER_PAGE,
                    &cache,
                )
            })?;
            Ok((
                editeur,
                editeurs::forms(conn, &id)?,
                editeurs::members(conn, &id)?,
                clients,
                crate::models::api_keys::for_editeur(conn, &id)?,
            ))
        })
        .await?;
    let edit = forms.edit.cloned().unwrap_or_else(|| EditForm {
        name: editeur.name.clone(),
        contact_technique_email: editeur.contact_technique_email.clone(),
        apis: editeur.apis.replace(',', ", "),
    });
    let new_form = forms.new_form.cloned().unwrap_or_default();
    let apis: Vec<&str> = editeur.apis.split(',').filter(|a| !a.is_empty()).collect();
    let next_page = clients.next_cursor.as_ref().map(|after| {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        pairs.append_pair("q", forms.client_q.trim());
        pairs.append_pair("apres", after);
        format!("/editeurs/{}?{}#clients", editeur.id, pairs.finish())
    });
    let mut context = page.context();
    context.insert("editeur", &editeur);
    context.insert("apis", &apis);
    context.insert("forms", &prefilled);
    context.insert("members", &members);
    context.insert("api_keys", &keys);
    context.insert("clients", &clients.items);
    context.insert("client_count", &clients.collectivites);
    context.insert("client_requests", &clients.requests);
    context.insert("client_q", forms.client_q.trim());
    context.insert("client_first_page", &forms.client_after.is_none());
    context.insert("client_next", &next_page);
    context.insert("edit", &edit);
    context.insert("edit_errors", forms.edit_errors);
    context.insert("new_form", &new_form);
    context.insert("new_form_errors", forms.new_form_errors);
    context.insert("notice", &forms.notice);
    state.render_status(status, "editeurs/show.html", context)
}

/// `GET /editeurs/{id}`.
pub async fn show(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
    path: web::Path<String>,
    notice: web::Query<NoticeParams>,
) -> Result<HttpResponse, AppError> {
    let forms = ShowForms {
        notice: notice_text(&notice.succes),
        client_q: &notice.q,
        client_after: Some(notice.apres.as_str()).filter(|a| !a.is_empty()),
        ..ShowForms::default()
    };
    render_show(&state, &page, StatusCode::OK, &path, forms).await
}

/// `POST /editeurs/{id}/modifier`: name, contact technique and APIs (not the SIRET).
pub async fn update(
    state: web::Data<AppState>,
    Staff { page, user }: Staff,
    path: web::Path<String>,
    form: web::Form<EditForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let form = form.into_inner();
    let mut errors = Vec::new();
    let name = collect(clean_name(&form.name, "de l'éditeur"), &mut errors);
    let contact = collect(clean_contact(&form.contact_technique_email), &mut errors);
    let apis = collect(clean_apis(&form.apis), &mut errors);
    let (Some(name), Some(contact), Some(apis)) = (name, contact, apis) else {
        let forms = ShowForms {
            edit: Some(&form),
            edit_errors: &errors,
            ..ShowForms::default()
        };
        return render_show(&state, &page, StatusCode::BAD_REQUEST, &id, forms).await;
    };
    let now = page.now;
    let target = id.clone();
    state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                let current = editeurs::find(conn, &target)?.ok_or(AppError::NotFound)?;
                let mut changes = Vec::new();
                if current.name != name {
                    changes.push(format!("nom : « {} » → « {name} »", current.name));
                }
                if current.contact_technique_email != contact {
                    // The contact technique sees the éditeur's clients: like adding a member,
                    // changing who it is belongs to administrators.
                    if !user.is_admin {
                        return Err(AppError::Forbidden(
                            "Seul un administrateur peut changer le contact technique d'un éditeur : cette adresse accède aux collectivités clientes de l'éditeur.".into(),
                        ));
                    }
                    changes.push(format!(
                        "contact technique : {} → {contact}",
                        current.contact_technique_email
                    ));
                }
                if current.apis != apis {
                    changes.push(format!("API : {} → {apis}", current.apis));
                }
                if changes.is_empty() {
                    return Ok(());
                }
                editeurs::update(conn, &target, &name, &contact, &apis, now)?;
                events::record(
                    conn,
                    now,
                    &user.email,
                    "editeur.update",
                    ("editeur", &target),
                    Some(changes.join(" ; ")),
                )?;
                Ok(())
            })
        })
        .await?;
    Ok(see_other(&format!("/editeurs/{id}?succes=modifie")))
}

fn check_public_url(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    match url::Url::parse(raw) {
        Ok(url) if url.scheme() == "https" && url.host_str().is_some_and(|h| !h.is_empty()) => {
            Ok(raw.to_owned())
        }
        _ => Err("L'adresse publique du formulaire doit être une adresse https complète, par exemple https://datapass.api.gouv.fr/demandes/mon-formulaire/nouveau.".to_owned()),
    }
}

/// `POST /editeurs/{id}/formulaires`: adds a pre-filled form; its id is unique across éditeurs.
pub async fn add_form(
    state: web::Data<AppState>,
    Staff { page, user }: Staff,
    path: web::Path<String>,
    form: web::Form<NewFormForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let form = form.into_inner();
    let mut errors = Vec::new();
    let form_uid = form.form_uid.trim().to_owned();
    if !valid_form_uid(&form_uid) {
        errors.push(format!(
            "Identifiant de formulaire « {form_uid} » invalide : 3 à 120 caractères, lettres minuscules, chiffres et tirets uniquement (par exemple api-particulier-mon-logiciel)."
        ));
    }
    let name = collect(clean_name(&form.name, "du formulaire"), &mut errors);
    let public_url = collect(check_public_url(&form.public_url), &mut errors);
    let (Some(name), Some(public_url), true) = (name, public_url, errors.is_empty()) else {
        let forms = ShowForms {
            new_form: Some(&form),
            new_form_errors: &errors,
            ..ShowForms::default()
        };
        return render_show(&state, &page, StatusCode::BAD_REQUEST, &id, forms).await;
    };
    let now = page.now;
    let target = id.clone();
    let outcome = state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                editeurs::find(conn, &target)?.ok_or(AppError::NotFound)?;
                if let Some((_, owner)) = editeurs::find_form_by_uid(conn, &form_uid)? {
                    return Ok(Err(format!(
                        "Le formulaire « {form_uid} » est déjà déclaré pour l'éditeur {owner} : chaque identifiant de formulaire n'appartient qu'à un éditeur."
                    )));
                }
                let prefilled = EditeurForm {
                    id: crate::db::new_id(),
                    editeur_id: target.clone(),
                    form_uid,
                    name,
                    public_url,
                    created_at: now,
                };
                editeurs::insert_form(conn, &prefilled)?;
                events::record(
                    conn,
                    now,
                    &user.email,
                    "editeur.form_add",
                    ("editeur", &target),
                    Some(format!(
                        "{} — {} ({})",
                        prefilled.form_uid, prefilled.name, prefilled.public_url
                    )),
                )?;
                Ok::<_, AppError>(Ok(()))
            })
        })
        .await?;
    match outcome {
        Ok(()) => Ok(see_other(&format!(
            "/editeurs/{id}?succes=formulaire-ajoute"
        ))),
        Err(message) => {
            let errors = [message];
            let forms = ShowForms {
                new_form: Some(&form),
                new_form_errors: &errors,
                ..ShowForms::default()
            };
            render_show(&state, &page, StatusCode::BAD_REQUEST, &id, forms).await
        }
    }
}

/// `GET /editeurs/{id}/formulaires/{form_id}/retirer`: asks for confirmation.
pub async fn confirm_remove_form(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, form_id) = path.into_inner();
    let (editeur, form) = state
        .db(move |conn| {
            let editeur = editeurs::find(conn, &id)?.ok_or(AppError::NotFound)?;
            let form = editeurs::find_form(conn, &id, &form_id)?.ok_or(AppError::NotFound)?;
            Ok((editeur, form))
        })
        .await?;
    super::render_confirm(
        &state,
        &page,
        &format!(
            "Retirer le formulaire « {} » ({}) de l'éditeur {} ?",
            form.name, form.form_uid, editeur.name
        ),
        "Son adresse publique ne figurera plus parmi les formulaires de l'éditeur. Les demandes déjà déposées avec ce formulaire ne sont pas modifiées.",
        &format!("/editeurs/{}/formulaires/{}/retirer", editeur.id, form.id),
        &format!("/editeurs/{}", editeur.id),
    )
}

/// `POST /editeurs/{id}/formulaires/{form_id}/retirer`.
pub async fn remove_form(
    state: web::Data<AppState>,
    Staff { page, user }: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, form_id) = path.into_inner();
    let now = page.now;
    let target = id.clone();
    state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                let form =
                    editeurs::find_form(conn, &target, &form_id)?.ok_or(AppError::NotFound)?;
                editeurs::delete_form(conn, &form.id)?;
                events::record(
                    conn,
                    now,
                    &user.email,
                    "editeur.form_remove",
                    ("editeur", &target),
                    Some(format!("{} — {}", form.form_uid, form.name)),
                )?;
                Ok(())
            })
        })
        .await?;
    Ok(see_other(&format!(
        "/editeurs/{id}?succes=formulaire-retire"
    )))
}
