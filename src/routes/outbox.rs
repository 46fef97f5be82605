//! The e-mail outbox pages (staff): what was e-mailed to whom, what is waiting or failing,
//! and a retry button for failed e-mails.

use actix_web::{HttpResponse, web};

use super::{ListQuery, see_other};
use crate::auth::Staff;
use crate::error::AppError;
use crate::mail::outbox;
use crate::models::events;
use crate::state::AppState;

#[derive(serde::Serialize)]
struct StatusCount {
    code: &'static str,
    label: &'static str,
    count: i64,
}

/// `GET /emails`: newest first, filtered by status (`?statut=`) and address or subject (`?q=`).
pub async fn list(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let status = query
        .statut
        .as_deref()
        .and_then(|s| outbox::STATUSES.iter().find(|known| **known == s).copied());
    let q = query.q.clone();
    let number = query.page();
    let (list, counts) = state
        .db(move |conn| {
            Ok((
                outbox::list(conn, status, &q, number)?,
                outbox::count_by_status(conn)?,
            ))
        })
        .await?;
    let counts: Vec<StatusCount> = outbox::STATUSES
        .iter()
        .map(|code| StatusCount {
            code,
            label: outbox::status_label(code),
            count: counts
                .iter()
                .find(|(c, _)| c == code)
                .map_or(0, |(_, n)| *n),
        })
        .collect();
    let mut context = page.context();
    context.insert("emails", &list);
    context.insert("counts", &counts);
    context.insert("statut", &status.unwrap_or(""));
    context.insert("q", &query.q);
    state.render("outbox/list.html", context)
}

/// `GET /emails/{id}`: one e-mail with its bodies and delivery history.
pub async fn show(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let email = state
        .db(move |conn| outbox::find(conn, &id)?.ok_or(AppError::NotFound))
        .await?;
    let mut email = email;
    // A sign-in link not yet sent is live: nobody reads it here, not even the team.
    if outbox::SECRET_TEMPLATES.contains(&email.template.as_str()) {
        email.text_body = outbox::REDACTED_BODY.to_owned();
        email.html_body = outbox::REDACTED_BODY.to_owned();
    }
    let mut context = page.context();
    context.insert("status_label", outbox::status_label(&email.status));
    context.insert("email", &email);
    state.render("outbox/show.html", context)
}

/// `POST /emails/{id}/relancer`: a failed e-mail goes back to the queue, due now.
pub async fn retry(
    state: web::Data<AppState>,
    Staff { page, user }: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let now = page.now;
    let target = id.clone();
    state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                outbox::find(conn, &target)?.ok_or(AppError::NotFound)?;
                if !outbox::retry(conn, &target, now)? {
                    return Err(AppError::BadRequest(
                        "Seul un e-mail en échec peut être relancé.".into(),
                    ));
                }
                events::record(
                    conn,
                    now,
                    &user.email,
                    "email.retry",
                    ("email", &target),
                    None,
                )?;
                Ok(())
            })
        })
        .await?;
    state.mailer.notify();
    Ok(see_other(&format!("/emails/{id}")))
}
