//! Collectivités (staff): the searchable list, one collectivité's page (requests, tokens,
//! HubEE subscription), editing its identity fields and importing a CSV file of them.

use std::future::Future;
use std::pin::Pin;

use actix_multipart::form::{FieldReader, Limits, MultipartForm};
use actix_multipart::{Field, LimitExceeded, MultipartError};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};

use super::see_other;
use crate::auth::{PageCtx, Staff};
use crate::domain::request_state::RequestState;
use crate::domain::token::{days_left, expiry_phrase_fr};
use crate::error::AppError;
use crate::import::{self, FileError, MAX_FILE_BYTES, Report};
use crate::models::collectivites::{
    self, CollectiviteChanges, Filters, KINDS, departement_from_cog, kind_label, parse_cog,
    parse_departement, parse_postal_code,
};
use crate::models::events;
use crate::state::AppState;

route_table! {
    get "/collectivites" => list,
    get "/collectivites/import" => import_form,
    post "/collectivites/import" => import,
    get "/collectivites/{id}" => show,
    get "/collectivites/{id}/modifier" => edit_form,
    post "/collectivites/{id}/modifier" => update,
    post "/collectivites/{id}/provisionner" => provision,
}

/// Query string of the list: search, département, status, page.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    departement: String,
    /// `actives`, `inactives`, or anything else for both.
    #[serde(default)]
    statut: String,
    #[serde(default)]
    page: String,
}

/// `GET /collectivites`.
pub async fn list(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, AppError> {
    let params = params.into_inner();
    let departement = params.departement.trim().to_uppercase();
    let active = match params.statut.as_str() {
        "actives" => Some(true),
        "inactives" => Some(false),
        _ => None,
    };
    let filters = Filters {
        q: params.q.clone(),
        departement: (!departement.is_empty()).then(|| departement.clone()),
        active,
    };
    let page_number = params.page.trim().parse::<i64>().unwrap_or(1).max(1);
    let choices = state.filter_choices.clone();
    let results = state.list_results.clone();
    let (items, choices) = state
        .db(move |conn| {
            Ok((
                collectivites::list(conn, &filters, page_number, &results)?,
                crate::models::filter_choices(conn, &choices)?,
            ))
        })
        .await?;
    let statut = match active {
        Some(true) => "actives",
        Some(false) => "inactives",
        None => "",
    };
    let base = format!(
        "/collectivites?q={}&amp;departement={}&amp;statut={}&amp;",
        encode(&params.q),
        encode(&departement),
        statut
    );
    let mut context = page.context();
    context.insert("collectivites", &items);
    context.insert(
        "departement_options",
        &choices.departement_options(&departement),
    );
    context.insert("q", &params.q);
    context.insert("departement", &departement);
    context.insert("statut", statut);
    context.insert("base", &base);
    state.render("collectivites/list.html", context)
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[derive(serde::Serialize)]
struct RequestLine {
    id: String,
    datapass_id: Option<i64>,
    state: RequestState,
    state_label: &'static str,
    reopening: bool,
    form_uid: String,
    editeur: Option<String>,
    created_at: chrono::NaiveDateTime,
}

#[derive(serde::Serialize)]
struct TokenLine {
    id: String,
    scopes: String,
    status: &'static str,
    status_label: &'static str,
    issued_at: chrono::NaiveDateTime,
    expires_on: chrono::NaiveDate,
    phrase: String,
    revoked_at: Option<chrono::NaiveDateTime>,
    revocation_reason: Option<String>,
}

/// Messages shown after a redirect, by the `succes` query parameter.
#[derive(Debug, Default, serde::Deserialize)]
pub struct NoticeParams {
    #[serde(default)]
    succes: String,
}

/// `GET /collectivites/{id}`.
pub async fn show(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
    path: web::Path<String>,
    notice: web::Query<NoticeParams>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let today = crate::domain::calendar::paris_date(page.now);
    let form_api = state.form.can_activate();
    let (collectivite, requests, tokens, subscription, form_state) = state
        .db(move |conn| {
            let collectivite = collectivites::find(conn, &id)?.ok_or(AppError::NotFound)?;
            Ok((
                collectivite,
                collectivites::requests(conn, &id)?,
                collectivites::tokens(conn, &id)?,
                collectivites::subscription(conn, &id)?,
                crate::provisioning::form_state(conn, &id, form_api)?,
            ))
        })
        .await?;
    let requests: Vec<RequestLine> = requests
        .into_iter()
        .map(|(request, editeur)| RequestLine {
            state_label: request.state.label_fr(),
            id: request.id,
            datapass_id: request.datapass_id,
            state: request.state,
            reopening: request.reopening,
            form_uid: request.form_uid,
            editeur,
            created_at: request.created_at,
        })
        .collect();
    let tokens: Vec<TokenLine> = tokens
        .into_iter()
        .map(|token| {
            let status = token.status(today);
            TokenLine {
                status: status.as_str(),
                status_label: status.label_fr(),
                phrase: expiry_phrase_fr(days_left(token.expires_on, today)),
                id: token.id,
                scopes: token.scopes,
                issued_at: token.issued_at,
                expires_on: token.expires_on,
                revoked_at: token.revoked_at,
                revocation_reason: token.revocation_reason,
            }
        })
        .collect();
    let mut context = page.context();
    if let Some(subscription) = &subscription {
        context.insert("hubee_status_label", subscription.status.label_fr());
    }
    let notice = match notice.succes.as_str() {
        "modifiee" => Some("Modifications enregistrées."),
        "provisionnement" => Some(
            "Provisionnement relancé : HubEE et le formulaire QF seront appelés dans quelques secondes.",
        ),
        _ => None,
    };
    context.insert("form_state", &form_state);
    context.insert("notice", &notice);
    context.insert("kind_label", kind_label(&collectivite.kind));
    context.insert("collectivite", &collectivite);
    context.insert("requests", &requests);
    context.insert("tokens", &tokens);
    context.insert("hubee", &subscription);
    state.render("collectivites/show.html", context)
}

/// The fields of the edit form, as typed.
#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct EditForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    cog: String,
    #[serde(default)]
    postal_code: String,
    #[serde(default)]
    departement: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    active: Option<String>,
    /// A checkbox: present when ticked.
    #[serde(default)]
    had_hubee_account: Option<String>,
}

impl EditForm {
    fn from_row(c: &collectivites::Collectivite) -> EditForm {
        EditForm {
            name: c.name.clone(),
            kind: c.kind.clone(),
            cog: c.cog.clone().unwrap_or_default(),
            postal_code: c.postal_code.clone().unwrap_or_default(),
            departement: c.departement.clone().unwrap_or_default(),
            active: c.active.then(|| "on".to_owned()),
            had_hubee_account: c.had_hubee_account.then(|| "on".to_owned()),
        }
    }

    /// The new values on top of `current`, or every problem found, in French.
    fn validate(
        &self,
        current: &collectivites::Collectivite,
    ) -> Result<CollectiviteChanges, Vec<String>> {
        let mut errors = Vec::new();
        let name = self.name.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() {
            errors.push("Le nom est obligatoire.".to_owned());
        } else if name.chars().count() > 200 {
            errors.push("Le nom ne doit pas dépasser 200 caractères.".to_owned());
        }
        if !KINDS.iter().any(|(code, _)| *code == self.kind) {
            errors.push("Type inconnu : choisissez commune, CCAS, EPCI ou autre.".to_owned());
        }
        let cog = match self.cog.trim() {
            "" => None,
            raw => {
                let cog = parse_cog(raw);
                if cog.is_none() {
                    errors.push(format!(
                        "Code commune (COG) « {raw} » invalide : 5 caractères attendus, des chiffres ou 2A/2B suivis de 3 chiffres (par exemple 26079 ou 2A004)."
                    ));
                }
                cog
            }
        };
        let postal_code = match self.postal_code.trim() {
            "" => None,
            raw => {
                let code = parse_postal_code(raw);
                if code.is_none() {
                    errors.push(format!(
                        "Code postal « {raw} » invalide : 5 chiffres attendus (par exemple 26410)."
                    ));
                }
                code
            }
        };
        let departement = match self.departement.trim() {
            "" => cog.as_deref().map(departement_from_cog),
            raw => {
                let code = parse_departement(raw);
                if code.is_none() {
                    errors.push(format!(
                        "Département « {raw} » invalide : 2 chiffres, 2A, 2B, ou 3 chiffres outre-mer (par exemple 26 ou 974)."
                    ));
                }
                code
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut changes = CollectiviteChanges::from_row(current);
        changes.name = name;
        changes.kind = self.kind.clone();
        changes.cog = cog;
        changes.postal_code = postal_code;
        changes.departement = departement;
        changes.active = self.active.is_some();
        changes.had_hubee_account = self.had_hubee_account.is_some();
        Ok(changes)
    }
}

fn render_edit(
    state: &AppState,
    page: &PageCtx,
    status: StatusCode,
    collectivite: &collectivites::Collectivite,
    form: &EditForm,
    errors: &[String],
) -> Result<HttpResponse, AppError> {
    let mut context = page.context();
    context.insert("collectivite", collectivite);
    context.insert("form", form);
    context.insert("errors", errors);
    context.insert(
        "kinds",
        &KINDS
            .iter()
            .map(|(code, label)| serde_json::json!({"code": code, "label": label}))
            .collect::<Vec<_>>(),
    );
    state.render_status(status, "collectivites/edit.html", context)
}

/// `GET /collectivites/{id}/modifier`.
pub async fn edit_form(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let collectivite = state
        .db(move |conn| collectivites::find(conn, &id)?.ok_or(AppError::NotFound))
        .await?;
    render_edit(
        &state,
        &page,
        StatusCode::OK,
        &collectivite,
        &EditForm::from_row(&collectivite),
        &[],
    )
}

/// `POST /collectivites/{id}/modifier`: the SIRET is not editable.
pub async fn update(
    state: web::Data<AppState>,
    Staff { page, user }: Staff,
    path: web::Path<String>,
    form: web::Form<EditForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let form = form.into_inner();
    let now = page.now;
    let lookup = id.clone();
    let current = state
        .db(move |conn| collectivites::find(conn, &lookup)?.ok_or(AppError::NotFound))
        .await?;
    let mut changes = match form.validate(&current) {
        Ok(changes) => changes,
        Err(errors) => {
            return render_edit(
                &state,
                &page,
                StatusCode::BAD_REQUEST,
                &current,
                &form,
                &errors,
            );
        }
    };
    changes.updated_at = now;
    let target = id.clone();
    state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                // Described against the row as it is now, inside the transaction.
                let current = collectivites::find(conn, &target)?.ok_or(AppError::NotFound)?;
                let described = changes.describe_from(&current);
                if described.is_empty() {
                    return Ok(());
                }
                collectivites::update(conn, &target, &changes)?;
                events::record(
                    conn,
                    now,
                    &user.email,
                    "collectivite.update",
                    ("collectivite", &target),
                    Some(described.join(" ; ")),
                )?;
                Ok(())
            })
        })
        .await?;
    Ok(see_other(&format!("/collectivites/{id}?succes=modifiee")))
}

/// The uploaded CSV file: its bytes, or `None` when larger than [`MAX_FILE_BYTES`].
pub struct CsvUpload {
    bytes: Option<web::Bytes>,
    file_name: Option<String>,
}

impl<'t> FieldReader<'t> for CsvUpload {
    type Future = Pin<Box<dyn Future<Output = Result<Self, MultipartError>> + 't>>;

    fn read_field(_: &'t HttpRequest, mut field: Field, _: &'t mut Limits) -> Self::Future {
        Box::pin(async move {
            let file_name = field
                .content_disposition()
                .and_then(|cd| cd.get_filename())
                .map(str::to_owned);
            // Past the limit the rest of the field is read and dropped, never kept in memory.
            let bytes = match field.bytes(MAX_FILE_BYTES).await {
                Ok(read) => Some(read?),
                Err(LimitExceeded { .. }) => None,
            };
            Ok(CsvUpload { bytes, file_name })
        })
    }
}

/// The import form: one file field, `fichier`.
#[derive(MultipartForm)]
pub struct ImportUpload {
    fichier: Option<CsvUpload>,
}

fn render_import(
    state: &AppState,
    page: &PageCtx,
    status: StatusCode,
    error: Option<&str>,
    report: Option<(&Report, usize, Option<&str>)>,
) -> Result<HttpResponse, AppError> {
    let mut context = page.context();
    context.insert("error", &error);
    context.insert("max_megabytes", &(MAX_FILE_BYTES / (1024 * 1024)));
    if let Some((report, lines, file_name)) = report {
        context.insert("report", report);
        context.insert("lines", &lines);
        context.insert("file_name", &file_name);
    }
    state.render_status(status, "collectivites/import.html", context)
}

/// `GET /collectivites/import`.
pub async fn import_form(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
) -> Result<HttpResponse, AppError> {
    render_import(&state, &page, StatusCode::OK, None, None)
}

/// `POST /collectivites/import` (multipart, CSRF token in the query string): imports the file
/// and shows the report. The role is checked before the body is read.
pub async fn import(
    state: web::Data<AppState>,
    Staff { page, user }: Staff,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let mut payload = payload.into_inner();
    let upload = MultipartForm::<ImportUpload>::from_request(&req, &mut payload).await;
    let bad =
        |message: &str| render_import(&state, &page, StatusCode::BAD_REQUEST, Some(message), None);
    let Ok(MultipartForm(ImportUpload {
        fichier: Some(upload),
    })) = upload
    else {
        return bad("Choisissez un fichier CSV à importer.");
    };
    let Some(bytes) = upload.bytes else {
        return bad(&FileError::TooLarge.to_string());
    };
    if bytes.is_empty() && upload.file_name.as_deref().unwrap_or_default().is_empty() {
        return bad("Choisissez un fichier CSV à importer.");
    }
    let parsed = match import::parse(&bytes) {
        Ok(parsed) => parsed,
        Err(e) => return bad(&e.to_string()),
    };
    let lines = parsed.lines();
    let now = page.now;
    let rows = parsed.rows;
    let mut report = state
        .db(move |conn| Ok(import::apply(conn, &rows, &user.email, now)?))
        .await?;
    // `apply` only sees valid rows: the rejections come from parsing.
    report.rejected = parsed.rejections;
    render_import(
        &state,
        &page,
        StatusCode::OK,
        None,
        Some((&report, lines, upload.file_name.as_deref())),
    )
}

/// `POST /collectivites/{id}/provisionner` (staff): provisions the collectivité again from its
/// latest approved request (HubEE subscription and form activation).
pub async fn provision(
    state: web::Data<AppState>,
    Staff { page, user }: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let now = page.now;
    let target = id.clone();
    let provisioned = state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                collectivites::find(conn, &target)?.ok_or(AppError::NotFound)?;
                Ok(crate::provisioning::request_by_staff(
                    conn,
                    &target,
                    &user.email,
                    now,
                )?)
            })
        })
        .await?;
    if !provisioned {
        return Err(AppError::BadRequest(
            "Cette collectivité n'a aucune demande validée : il n'y a rien à provisionner.".into(),
        ));
    }
    state.hubee_wakeup.notify_one();
    state.form_wakeup.notify_one();
    Ok(see_other(&format!(
        "/collectivites/{id}?succes=provisionnement"
    )))
}
