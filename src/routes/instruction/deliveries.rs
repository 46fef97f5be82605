//! The webhook delivery log (staff): list, one delivery, and replaying a failed one.

use actix_web::{HttpResponse, web};
use diesel::prelude::*;

use super::super::{ListQuery, see_other};
use crate::auth::Staff;
use crate::db::schema::webhook_deliveries;
use crate::db::{Page, offset};
use crate::error::AppError;
use crate::instruction::datapass::{self, receive};
use crate::models::events;
use crate::state::AppState;

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
            let processed = receive(conn, payload.as_bytes(), now)?;
            let new_id = processed.delivery_id.clone().unwrap_or_default();
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
    state.mailer.notify_jobs();
    Ok(see_other(&format!("/webhooks/livraisons/{new_id}")))
}
