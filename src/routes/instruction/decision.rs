//! Decisions on a request (approve, refuse, ask for changes) and its délibération file.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use diesel::prelude::*;

use super::super::see_other;
use super::super::shared::request_page;
use crate::auth::{PageCtx, Staff};
use crate::db::schema::{deliberation_files, reason_templates};
use crate::domain::request_state::RequestEvent;
use crate::error::AppError;
use crate::instruction::{self as service, Actor, InstructionError};
use crate::models::access;
use crate::models::requests::{self};
use crate::state::AppState;

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
