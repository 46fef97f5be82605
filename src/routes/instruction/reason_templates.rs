//! Reusable reasons for refusals and change requests (staff).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use diesel::prelude::*;

use super::super::see_other;
use crate::auth::{PageCtx, Staff};
use crate::db::new_id;
use crate::db::schema::reason_templates;
use crate::error::AppError;
use crate::models::events;
use crate::models::reason_templates::{ReasonTemplate, list_templates};
use crate::state::AppState;

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
    super::super::render_confirm(
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
