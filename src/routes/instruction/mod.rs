//! Instruction: the DataPass webhook, the staff queue, decisions on a request, staff-created
//! requests, reusable reason templates and the webhook delivery log.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use futures_util::StreamExt;
use serde_json::json;

use super::shared::request_page;
use super::{ListQuery, see_other};
use crate::auth::{PageCtx, Staff};
use crate::db::schema::{
    collectivites, deliberation_files, editeur_forms, editeurs, habilitation_requests,
    reason_templates, request_contacts, webhook_deliveries,
};
use crate::db::{Page, new_id, offset};
use crate::domain::request_state::{RequestEvent, RequestState};
use crate::error::AppError;
use crate::instruction::datapass::{self, log_delivery, process};
use crate::instruction::queue::{self, QueueFilter};
use crate::instruction::{self as service, Actor, InstructionError};
use crate::models::access;
use crate::models::events;
use crate::models::reason_templates::{ReasonTemplate, list_templates};
use crate::models::requests::{self, HabilitationRequest, RequestContact, roles};
use crate::state::AppState;

route_table! {
    post "/webhooks/datapass" => datapass_webhook,
    get "/webhooks/livraisons" => deliveries,
    get "/webhooks/livraisons/{id}" => delivery,
    post "/webhooks/livraisons/{id}/rejouer" => reapply_delivery,
    get "/instruction" => queue_page,
    get "/demandes/nouvelle" => new_request_form,
    post "/demandes/nouvelle" => create_request,
    post "/demandes/{id}/decision" => decide,
    get "/demandes/{id}/deliberation" => deliberation_file,
    get "/modeles-de-motifs" => templates_page,
    post "/modeles-de-motifs" => create_template,
    post "/modeles-de-motifs/{id}" => update_template,
    get "/modeles-de-motifs/{id}/supprimer" => confirm_delete_template,
    post "/modeles-de-motifs/{id}/supprimer" => delete_template,
}

/// Largest délibération PDF accepted.
pub const MAX_PDF_BYTES: usize = 10 * 1024 * 1024;
/// Most parts a new-request form may have (it has about thirty).
pub const MAX_FORM_PARTS: usize = 64;
/// Most bytes of all text parts of a new-request form together.
const MAX_TEXT_BYTES: usize = 256 * 1024;

// ---------------------------------------------------------------------------------------
// Webhook

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
    let worker = state.clone();
    let outcome = state
        .db(move |conn| {
            let processed = process(conn, Some(&worker), &body, now);
            log_delivery(conn, now, &processed, &body)?;
            Ok(processed)
        })
        .await;
    match outcome {
        Ok(processed) => {
            if processed.approved_token.is_some() {
                state.mailer.notify();
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

#[derive(Clone, Debug, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = webhook_deliveries)]
pub struct Delivery {
    pub id: String,
    pub received_at: chrono::NaiveDateTime,
    pub event: Option<String>,
    pub model_type: Option<String>,
    pub model_id: Option<i64>,
    pub fired_at: Option<i64>,
    pub request_id: Option<String>,
    pub outcome: String,
    pub http_status: i32,
    pub response_body: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub payload: String,
    pub reapplied_at: Option<chrono::NaiveDateTime>,
    pub reapplied_by: Option<String>,
}

/// `GET /webhooks/livraisons`: every delivery, newest first; `?statut=rejected` for failures.
pub async fn deliveries(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let outcome = query.statut.clone().filter(|s| !s.is_empty());
    let number = query.page();
    let q = query.q.trim().trim_start_matches(['D', 'd']).to_owned();
    let list = state
        .db(move |conn| {
            let filtered = || {
                let mut f = webhook_deliveries::table.into_boxed();
                if let Some(outcome) = &outcome {
                    f = f.filter(webhook_deliveries::outcome.eq(outcome.clone()));
                }
                if let Ok(model_id) = q.parse::<i64>() {
                    f = f.filter(webhook_deliveries::model_id.eq(model_id));
                }
                f
            };
            let per_page = 30;
            let total: i64 = filtered().count().get_result(conn)?;
            let number = crate::db::clamp_page(number, total, per_page);
            let items: Vec<Delivery> = filtered()
                .order((
                    webhook_deliveries::received_at.desc(),
                    webhook_deliveries::id.desc(),
                ))
                .limit(per_page)
                .offset(offset(number, per_page))
                .select(Delivery::as_select())
                .load(conn)?;
            Ok(Page::new(items, number, per_page, total))
        })
        .await?;
    let mut context = page.context();
    context.insert("deliveries", &list);
    context.insert("statut", &query.statut.clone().unwrap_or_default());
    context.insert("q", &query.q);
    context.insert(
        "secret_configured",
        &state.settings.datapass_webhook_secret.is_some(),
    );
    context.insert(
        "webhook_url",
        &format!("{}/webhooks/datapass", state.settings.public_url),
    );
    state.render("instruction/deliveries.html", context)
}

/// `GET /webhooks/livraisons/{id}`.
pub async fn delivery(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let delivery = state
        .db(move |conn| {
            webhook_deliveries::table
                .find(&id)
                .select(Delivery::as_select())
                .first(conn)
                .optional()?
                .ok_or(AppError::NotFound)
        })
        .await?;
    let pretty = serde_json::from_str::<serde_json::Value>(&delivery.payload)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| delivery.payload.clone());
    let mut context = page.context();
    context.insert(
        "replayable",
        &datapass::Outcome::replayable(&delivery.outcome),
    );
    context.insert("delivery", &delivery);
    context.insert("payload_pretty", &pretty);
    state.render("instruction/delivery.html", context)
}

/// `POST /webhooks/livraisons/{id}/rejouer`: applies a failed delivery's payload again.
pub async fn reapply_delivery(
    state: web::Data<AppState>,
    Staff { page, user }: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let now = page.now;
    let worker = state.clone();
    let target = id.clone();
    let new_id = state
        .db(move |conn| {
            let (payload, outcome): (String, String) = webhook_deliveries::table
                .find(&target)
                .select((webhook_deliveries::payload, webhook_deliveries::outcome))
                .first(conn)
                .optional()?
                .ok_or(AppError::NotFound)?;
            if !datapass::Outcome::replayable(&outcome) {
                return Err(AppError::BadRequest(
                    "Seule une livraison en échec peut être rejouée.".into(),
                ));
            }
            if payload == crate::jobs::purge::PURGED_PAYLOAD {
                return Err(AppError::BadRequest(
                    "Le corps de cette livraison a été supprimé (durée de conservation écoulée) : elle ne peut plus être rejouée.".into(),
                ));
            }
            let processed = process(conn, Some(&worker), payload.as_bytes(), now);
            let new_id = log_delivery(conn, now, &processed, payload.as_bytes())?;
            diesel::update(webhook_deliveries::table.find(&target))
                .set((
                    webhook_deliveries::reapplied_at.eq(Some(now)),
                    webhook_deliveries::reapplied_by.eq(Some(user.email.clone())),
                ))
                .execute(conn)?;
            events::record(
                conn,
                now,
                &user.email,
                "webhook.reapply",
                ("webhook_delivery", &target),
                Some(format!(
                    "nouvelle livraison {new_id} : {} ({})",
                    processed.outcome.as_str(),
                    processed.answer.status
                )),
            )?;
            Ok(new_id)
        })
        .await?;
    state.mailer.notify();
    Ok(see_other(&format!("/webhooks/livraisons/{new_id}")))
}

// ---------------------------------------------------------------------------------------
// Queue

#[derive(serde::Deserialize)]
pub struct QueueQuery {
    #[serde(flatten)]
    filter: QueueFilter,
    #[serde(default)]
    page: Option<String>,
}

/// `GET /instruction`: the queue.
pub async fn queue_page(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
    query: web::Query<QueueQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let filter = query.filter.clone();
    let number = query
        .page
        .as_deref()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(1);
    let today = crate::domain::calendar::paris_date(page.now);
    let (list, editeur_choices, departements) = state
        .db(move |conn| {
            let list = queue::list(conn, &filter, today, number)?;
            let (editeur_choices, departements) = crate::models::filter_choices(conn)?;
            Ok((list, editeur_choices, departements))
        })
        .await?;
    let base = {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        pairs
            .append_pair("etat", &query.filter.etat)
            .append_pair("editeur", &query.filter.editeur)
            .append_pair("departement", &query.filter.departement)
            .append_pair("q", &query.filter.q);
        if query.filter.en_retard.is_some() {
            pairs.append_pair("en_retard", "1");
        }
        format!("/instruction?{}&amp;", pairs.finish().replace('&', "&amp;"))
    };
    let mut context = page.context();
    context.insert("queue", &list);
    context.insert("filter", &query.filter);
    context.insert("overdue_only", &query.filter.en_retard.is_some());
    context.insert("editeurs", &editeur_choices);
    context.insert("departements", &departements);
    context.insert("base", &base);
    state.render("instruction/queue.html", context)
}

// ---------------------------------------------------------------------------------------
// Decisions

#[derive(serde::Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    template_id: String,
    #[serde(default)]
    override_checks: Option<String>,
    #[serde(default)]
    override_reason: String,
}

/// `POST /demandes/{id}/decision`: approve, refuse or request changes.
pub async fn decide(
    state: web::Data<AppState>,
    Staff { page, user }: Staff,
    path: web::Path<String>,
    form: web::Form<DecisionForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let event = match form.action.as_str() {
        "approve" => RequestEvent::Approve,
        "refuse" => RequestEvent::Refuse,
        "request_changes" => RequestEvent::RequestChanges,
        _ => {
            return Err(AppError::BadRequest(
                "Décision inconnue : choisissez valider, refuser ou demander des modifications."
                    .into(),
            ));
        }
    };
    // A request from DataPass is decided on DataPass, never here.
    let target = id.clone();
    let from_datapass = state
        .db(move |conn| {
            Ok(requests::find(conn, &target)?
                .ok_or(AppError::NotFound)?
                .datapass_id)
        })
        .await?;
    if let Some(number) = from_datapass {
        return request_page::render_show(
            &state,
            &page,
            &id,
            StatusCode::CONFLICT,
            Some(&format!(
                "La demande D{number} vient de DataPass : la décision se prend sur DataPass ({}/instruction/demandes/{number}), qui tient ensuite le back-office à jour.",
                state.settings.datapass_url
            )),
        )
        .await;
    }
    // The reason: typed text, or the chosen template's text.
    let template_id = form.template_id.clone();
    let mut reason = form.reason.trim().to_owned();
    if reason.is_empty() && !template_id.is_empty() {
        reason = state
            .db(move |conn| {
                Ok(reason_templates::table
                    .find(&template_id)
                    .select(reason_templates::body)
                    .first::<String>(conn)
                    .optional()?
                    .unwrap_or_default())
            })
            .await?;
    }
    if event.requires_reason() && reason.is_empty() {
        return request_page::render_show(
            &state,
            &page,
            &id,
            StatusCode::BAD_REQUEST,
            Some("Un motif est obligatoire pour refuser ou demander des modifications : saisissez-le ou choisissez un modèle."),
        )
        .await;
    }
    if event == RequestEvent::Approve {
        let loaded = request_page::load(&state, &page, &id).await?;
        let checks = request_page::checks_of(&state, &loaded).await;
        let failed: Vec<String> = checks
            .iter()
            .filter(|c| c.status == crate::domain::checks::CheckStatus::Failed)
            .map(|c| c.label.to_owned())
            .collect();
        if !failed.is_empty() {
            let overridden =
                form.override_checks.is_some() && !form.override_reason.trim().is_empty();
            if !overridden {
                return request_page::render(
                    &state,
                    &page,
                    loaded,
                    Some(checks),
                    StatusCode::BAD_REQUEST,
                    Some(&format!(
                        "Contrôle(s) non conforme(s) : {}. Pour valider malgré tout, cochez « Passer outre » et expliquez pourquoi.",
                        failed.join(", ")
                    )),
                )
                .await;
            }
            reason = format!(
                "validation malgré les contrôles non conformes ({}) : {}",
                failed.join(", "),
                form.override_reason.trim()
            );
        }
    }
    let now = page.now;
    let worker = state.clone();
    let request_id = id.clone();
    let outcome = state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                requests::find(conn, &request_id)?.ok_or(AppError::NotFound)?;
                let actor = Actor {
                    name: &user.email,
                    at: now,
                };
                let stored_reason = (!reason.is_empty()).then_some(reason.as_str());
                let applied =
                    match service::apply_event(conn, &request_id, event, stored_reason, &actor) {
                        Ok(applied) => applied,
                        Err(InstructionError::Database(e)) => return Err(e.into()),
                        Err(other) => return Ok(Err(other.to_string())),
                    };
                let facts = service::mail_facts(conn, &request_id, applied.token_id.as_deref())?;
                let mail_reason = (event != RequestEvent::Approve).then_some(reason.as_str());
                service::queue_decision_email(conn, &worker, event, &facts, mail_reason, now)?;
                Ok(Ok(()))
            })
        })
        .await?;
    if let Err(message) = outcome {
        return request_page::render_show(&state, &page, &id, StatusCode::CONFLICT, Some(&message))
            .await;
    }
    state.mailer.notify();
    Ok(see_other(&format!("/demandes/{id}")))
}

/// `GET /demandes/{id}/deliberation`: the uploaded PDF, to whoever may see the request.
pub async fn deliberation_file(
    state: web::Data<AppState>,
    page: PageCtx,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let user = page.user()?.clone();
    let id = path.into_inner();
    let (name, content) = state
        .db(move |conn| {
            let request = requests::find(conn, &id)?.ok_or(AppError::NotFound)?;
            if !access::request_visible(conn, &user, &request.id, request.editeur_id.as_deref())? {
                return Err(AppError::NotFound);
            }
            deliberation_files::table
                .find(&id)
                .select((deliberation_files::file_name, deliberation_files::content))
                .first::<(String, Vec<u8>)>(conn)
                .optional()?
                .ok_or(AppError::NotFound)
        })
        .await?;
    let safe_name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{safe_name}\""),
        ))
        .body(content))
}

// ---------------------------------------------------------------------------------------
// Staff-created requests

/// The fields of the staff request form, kept to re-render it after an error.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct NewRequestFields {
    pub siret: String,
    pub name: String,
    pub cog: String,
    pub postal_code: String,
    pub form_uid: String,
    pub deliberation_url: String,
    pub purpose: String,
    pub contacts: std::collections::BTreeMap<String, String>,
}

/// Contact fields of the form (`<role>_<field>`) and their labels.
const CONTACT_FIELDS: [(&str, &str); 5] = [
    ("email", "E-mail"),
    ("given_name", "Prénom"),
    ("family_name", "Nom"),
    ("phone_number", "Téléphone"),
    ("job_title", "Fonction"),
];
const FORM_ROLES: [&str; 4] = [
    roles::DEMANDEUR,
    roles::CONTACT_METIER,
    roles::CONTACT_TECHNIQUE,
    roles::DPD,
];

async fn render_new_form(
    state: &AppState,
    page: &PageCtx,
    status: StatusCode,
    fields: &NewRequestFields,
    errors: &[String],
) -> Result<HttpResponse, AppError> {
    let forms = state
        .db(|conn| {
            Ok(editeur_forms::table
                .inner_join(editeurs::table)
                .order(editeurs::name.asc())
                .select((editeur_forms::form_uid, editeur_forms::name, editeurs::name))
                .load::<(String, String, String)>(conn)?)
        })
        .await?;
    let mut context = page.context();
    context.insert("fields", fields);
    context.insert("errors", errors);
    context.insert("forms", &forms);
    context.insert(
        "generic_form_uid",
        crate::domain::form_url::GENERIC_FORM_UID,
    );
    context.insert(
        "roles",
        &FORM_ROLES
            .iter()
            .map(|r| (r.to_string(), roles::label_fr(r)))
            .collect::<Vec<_>>(),
    );
    context.insert("max_mb", &(MAX_PDF_BYTES / (1024 * 1024)));
    context.insert("contact_fields", &CONTACT_FIELDS);
    state.render_status(status, "instruction/new_request.html", context)
}

/// `GET /demandes/nouvelle`.
pub async fn new_request_form(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
) -> Result<HttpResponse, AppError> {
    let fields = NewRequestFields {
        form_uid: crate::domain::form_url::GENERIC_FORM_UID.to_owned(),
        ..Default::default()
    };
    render_new_form(&state, &page, StatusCode::OK, &fields, &[]).await
}

/// Whether bytes are a PDF document (signature at the start, end marker near the end).
pub fn looks_like_pdf(bytes: &[u8]) -> bool {
    let start = &bytes[..bytes.len().min(1024)];
    let has_header = start.windows(5).any(|w| w == b"%PDF-");
    let tail = &bytes[bytes.len().saturating_sub(2048)..];
    let has_eof = tail.windows(5).any(|w| w == b"%%EOF");
    has_header && has_eof
}

/// `POST /demandes/nouvelle` (multipart): creates a submitted request for a collectivité
/// that wrote or called.
pub async fn create_request(
    state: web::Data<AppState>,
    Staff { page, user }: Staff,
    mut payload: Multipart,
) -> Result<HttpResponse, AppError> {
    let mut fields = NewRequestFields::default();
    let mut pdf: Option<(String, Vec<u8>)> = None;
    let mut errors: Vec<String> = Vec::new();
    let mut parts = 0usize;
    let mut text_bytes = 0usize;
    while let Some(item) = payload.next().await {
        parts += 1;
        if parts > MAX_FORM_PARTS {
            return Err(AppError::BadRequest(format!(
                "Formulaire refusé : il compte plus de {MAX_FORM_PARTS} champs."
            )));
        }
        let mut field = item.map_err(|_| AppError::BadRequest("Formulaire illisible.".into()))?;
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field
            .content_disposition()
            .and_then(|cd| cd.get_filename().map(str::to_owned));
        let mut bytes = Vec::new();
        let limit = if name == "deliberation_file" {
            MAX_PDF_BYTES + 1
        } else {
            64 * 1024
        };
        let mut too_big = false;
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|_| AppError::BadRequest("Envoi interrompu.".into()))?;
            if bytes.len() + chunk.len() > limit {
                too_big = true;
                continue;
            }
            bytes.extend_from_slice(&chunk);
        }
        if name == "deliberation_file" {
            if too_big {
                errors.push(format!(
                    "La délibération dépasse {} Mo : réduisez le PDF ou donnez son adresse web.",
                    MAX_PDF_BYTES / (1024 * 1024)
                ));
            } else if !bytes.is_empty() {
                pdf = Some((
                    file_name.unwrap_or_else(|| "deliberation.pdf".into()),
                    bytes,
                ));
            }
            continue;
        }
        text_bytes += bytes.len();
        if too_big || text_bytes > MAX_TEXT_BYTES {
            return Err(AppError::BadRequest(
                "Formulaire refusé : un champ ou l'ensemble des champs est trop long.".into(),
            ));
        }
        let value = String::from_utf8_lossy(&bytes).trim().to_owned();
        match name.as_str() {
            "siret" => fields.siret = value,
            "name" => fields.name = value,
            "cog" => fields.cog = value,
            "postal_code" => fields.postal_code = value,
            "form_uid" => fields.form_uid = value,
            "deliberation_url" => fields.deliberation_url = value,
            "purpose" => fields.purpose = value,
            other
                if FORM_ROLES.iter().any(|r| {
                    CONTACT_FIELDS.iter().any(|(f, _)| {
                        other.strip_prefix(r).and_then(|x| x.strip_prefix('_')) == Some(f)
                    })
                }) =>
            {
                fields.contacts.insert(other.to_owned(), value);
            }
            _ => {}
        }
    }

    let siret = match crate::domain::siret::Siret::parse(&fields.siret) {
        Ok(s) => Some(s),
        Err(e) => {
            errors.push(format!("SIRET : {e}"));
            None
        }
    };
    if let Some((name, bytes)) = &pdf
        && !looks_like_pdf(bytes)
    {
        errors.push(format!(
            "Le fichier « {name} » n'est pas un PDF : joignez la délibération au format PDF."
        ));
    }
    let url_ok = !fields.deliberation_url.is_empty()
        && url::Url::parse(&fields.deliberation_url)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if !fields.deliberation_url.is_empty() && !url_ok {
        errors.push(
            "L'adresse de la délibération doit être une URL complète commençant par https://."
                .into(),
        );
    }
    if pdf.is_none() && fields.deliberation_url.is_empty() {
        errors.push(
            "La délibération est obligatoire : joignez le PDF ou donnez son adresse web.".into(),
        );
    }
    let contact = |role: &str, field: &str| {
        fields
            .contacts
            .get(&format!("{role}_{field}"))
            .cloned()
            .unwrap_or_default()
    };
    let mut contacts: Vec<RequestContact> = Vec::new();
    for role in FORM_ROLES {
        let email = crate::mail::normalize_address(&contact(role, "email"));
        if email.is_empty() {
            if role == roles::DEMANDEUR {
                errors.push("L'adresse e-mail du demandeur est obligatoire.".into());
            }
            continue;
        }
        if !crate::mail::is_valid_address(&email) {
            errors.push(format!(
                "{} : « {email} » n'est pas une adresse e-mail valide.",
                roles::label_fr(role)
            ));
            continue;
        }
        let opt = |f: &str| Some(contact(role, f)).filter(|v| !v.is_empty());
        contacts.push(RequestContact {
            id: new_id(),
            request_id: String::new(),
            role: role.to_owned(),
            email,
            given_name: opt("given_name"),
            family_name: opt("family_name"),
            phone_number: opt("phone_number"),
            job_title: opt("job_title"),
        });
    }
    if !errors.is_empty() {
        return render_new_form(&state, &page, StatusCode::BAD_REQUEST, &fields, &errors).await;
    }
    let Some(siret) = siret else {
        return render_new_form(&state, &page, StatusCode::BAD_REQUEST, &fields, &errors).await;
    };

    let now = page.now;
    let form_uid = if fields.form_uid.is_empty() {
        crate::domain::form_url::GENERIC_FORM_UID.to_owned()
    } else {
        fields.form_uid.clone()
    };
    let submitted = fields.clone();
    let created = state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                let collectivite_id: Option<String> = collectivites::table
                    .filter(collectivites::siret.eq(siret.as_str()))
                    .select(collectivites::id)
                    .first(conn)
                    .optional()?;
                let collectivite_id = match collectivite_id {
                    Some(id) => id,
                    None => {
                        if submitted.name.is_empty() {
                            return Ok(Err(
                                "Collectivité inconnue : indiquez son nom pour la créer."
                                    .to_owned(),
                            ));
                        }
                        let id = new_id();
                        let cog = Some(submitted.cog.clone()).filter(|c| !c.is_empty());
                        diesel::insert_into(collectivites::table)
                            .values(crate::models::collectivites::Collectivite {
                                id: id.clone(),
                                siret: siret.as_str().to_owned(),
                                name: submitted.name.clone(),
                                kind: "commune".into(),
                                departement: cog.as_ref().map(|c: &String| {
                                    c.chars()
                                        .take(if c.starts_with("97") { 3 } else { 2 })
                                        .collect()
                                }),
                                cog,
                                postal_code: Some(submitted.postal_code.clone())
                                    .filter(|c| !c.is_empty()),
                                active: true,
                                had_hubee_account: false,
                                created_at: now,
                                updated_at: now,
                            })
                            .execute(conn)?;
                        events::record(
                            conn,
                            now,
                            &user.email,
                            "collectivite.create",
                            ("collectivite", &id),
                            None,
                        )?;
                        id
                    }
                };
                let editeur_id: Option<String> = editeur_forms::table
                    .filter(editeur_forms::form_uid.eq(&form_uid))
                    .select(editeur_forms::editeur_id)
                    .first(conn)
                    .optional()?;
                let request_id = new_id();
                diesel::insert_into(habilitation_requests::table)
                    .values(HabilitationRequest {
                        id: request_id.clone(),
                        datapass_id: None,
                        collectivite_id,
                        form_uid: form_uid.clone(),
                        editeur_id,
                        state: RequestState::Submitted,
                        reopening: false,
                        scopes: "quotient_familial".into(),
                        purpose: Some(submitted.purpose.clone()).filter(|p| !p.is_empty()),
                        deliberation_url: Some(submitted.deliberation_url.clone())
                            .filter(|u| !u.is_empty()),
                        last_reason: None,
                        created_at: now,
                        last_submitted_at: Some(now),
                        last_validated_at: None,
                        last_event_at: Some(now),
                        updated_at: now,
                    })
                    .execute(conn)?;
                for mut contact in contacts {
                    contact.request_id = request_id.clone();
                    diesel::insert_into(request_contacts::table)
                        .values(&contact)
                        .execute(conn)?;
                }
                if let Some((file_name, bytes)) = &pdf {
                    diesel::insert_into(deliberation_files::table)
                        .values((
                            deliberation_files::request_id.eq(&request_id),
                            deliberation_files::file_name.eq(file_name),
                            deliberation_files::size_bytes.eq(bytes.len() as i64),
                            deliberation_files::content.eq(bytes),
                            deliberation_files::uploaded_at.eq(now),
                            deliberation_files::uploaded_by.eq(&user.email),
                        ))
                        .execute(conn)?;
                }
                events::record(
                    conn,
                    now,
                    &user.email,
                    "request.create_by_staff",
                    ("request", &request_id),
                    Some("demande saisie par l'équipe et soumise".into()),
                )?;
                Ok(Ok(request_id))
            })
        })
        .await?;
    match created {
        Ok(id) => Ok(see_other(&format!("/demandes/{id}"))),
        Err(message) => {
            render_new_form(&state, &page, StatusCode::BAD_REQUEST, &fields, &[message]).await
        }
    }
}

// ---------------------------------------------------------------------------------------
// Reason templates

#[derive(serde::Deserialize)]
pub struct TemplateForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
}

impl TemplateForm {
    fn validate(&self) -> Result<(), String> {
        if self.kind != "refuse" && self.kind != "request_changes" {
            return Err("Type de motif inconnu : refus ou demande de modifications.".into());
        }
        if self.title.trim().is_empty() || self.title.chars().count() > 120 {
            return Err("Le titre est obligatoire (120 caractères au plus).".into());
        }
        if self.body.trim().is_empty() {
            return Err("Le texte du motif est obligatoire.".into());
        }
        Ok(())
    }
}

async fn render_templates(
    state: &AppState,
    page: &PageCtx,
    status: StatusCode,
    error: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let templates = state.db(|conn| Ok(list_templates(conn)?)).await?;
    let mut context = page.context();
    context.insert("templates", &templates);
    context.insert("error", &error);
    state.render_status(status, "instruction/templates.html", context)
}

/// `GET /modeles-de-motifs`.
pub async fn templates_page(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
) -> Result<HttpResponse, AppError> {
    render_templates(&state, &page, StatusCode::OK, None).await
}

/// `POST /modeles-de-motifs`.
pub async fn create_template(
    state: web::Data<AppState>,
    Staff { page, user }: Staff,
    form: web::Form<TemplateForm>,
) -> Result<HttpResponse, AppError> {
    if let Err(message) = form.validate() {
        return render_templates(&state, &page, StatusCode::BAD_REQUEST, Some(&message)).await;
    }
    let now = page.now;
    let form = form.into_inner();
    state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                let id = new_id();
                diesel::insert_into(reason_templates::table)
                    .values(ReasonTemplate {
                        id: id.clone(),
                        kind: form.kind.clone(),
                        title: form.title.trim().to_owned(),
                        body: form.body.trim().to_owned(),
                        created_at: now,
                        updated_at: now,
                    })
                    .execute(conn)?;
                events::record(
                    conn,
                    now,
                    &user.email,
                    "reason_template.create",
                    ("reason_template", &id),
                    Some(form.title.clone()),
                )?;
                Ok(())
            })
        })
        .await?;
    Ok(see_other("/modeles-de-motifs"))
}

/// `POST /modeles-de-motifs/{id}`.
pub async fn update_template(
    state: web::Data<AppState>,
    Staff { page, user }: Staff,
    path: web::Path<String>,
    form: web::Form<TemplateForm>,
) -> Result<HttpResponse, AppError> {
    if let Err(message) = form.validate() {
        return render_templates(&state, &page, StatusCode::BAD_REQUEST, Some(&message)).await;
    }
    let id = path.into_inner();
    let now = page.now;
    let form = form.into_inner();
    state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                let changed = diesel::update(reason_templates::table.find(&id))
                    .set((
                        reason_templates::kind.eq(&form.kind),
                        reason_templates::title.eq(form.title.trim()),
                        reason_templates::body.eq(form.body.trim()),
                        reason_templates::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                if changed == 0 {
                    return Err(AppError::NotFound);
                }
                events::record(
                    conn,
                    now,
                    &user.email,
                    "reason_template.update",
                    ("reason_template", &id),
                    None,
                )?;
                Ok(())
            })
        })
        .await?;
    Ok(see_other("/modeles-de-motifs"))
}

/// `GET /modeles-de-motifs/{id}/supprimer`: asks for confirmation.
pub async fn confirm_delete_template(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let lookup = id.clone();
    let title: String = state
        .db(move |conn| {
            reason_templates::table
                .find(&lookup)
                .select(reason_templates::title)
                .first(conn)
                .optional()?
                .ok_or(AppError::NotFound)
        })
        .await?;
    super::render_confirm(
        &state,
        &page,
        &format!("Supprimer le modèle de motif « {title} » ?"),
        "Les décisions déjà prises gardent leur motif.",
        &format!("/modeles-de-motifs/{id}/supprimer"),
        "/modeles-de-motifs",
    )
}

/// `POST /modeles-de-motifs/{id}/supprimer`.
pub async fn delete_template(
    state: web::Data<AppState>,
    Staff { page, user }: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let now = page.now;
    state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                let removed = diesel::delete(reason_templates::table.find(&id)).execute(conn)?;
                if removed == 0 {
                    return Err(AppError::NotFound);
                }
                events::record(
                    conn,
                    now,
                    &user.email,
                    "reason_template.delete",
                    ("reason_template", &id),
                    None,
                )?;
                Ok(())
            })
        })
        .await?;
    Ok(see_other("/modeles-de-motifs"))
}
