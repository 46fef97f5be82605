//! Deferred decision e-mails. A write transaction that decides an e-mail (a DataPass approval)
//! records one `mail_jobs` row; after it commits, the mail worker gathers the facts, renders
//! the template and puts the e-mail in the outbox. The transaction stays short, and a failing
//! template leaves a failed job (logged, in the journal) instead of failing the event.

use std::sync::Arc;

use actix_web::web;
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::mail_jobs;
use crate::domain::request_state::RequestEvent;
use crate::error::AppError;
use crate::state::AppState;

/// Most jobs rendered and queued per transaction.
const BATCH: i64 = 200;

/// Records that the e-mail following `event` on `request_id` is to be sent; call inside the
/// event's transaction (one INSERT).
pub fn queue(
    conn: &mut DbConnection,
    request_id: &str,
    token_id: Option<&str>,
    event: RequestEvent,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(mail_jobs::table)
        .values((
            mail_jobs::id.eq(crate::db::new_id()),
            mail_jobs::request_id.eq(request_id),
            mail_jobs::token_id.eq(token_id),
            mail_jobs::event.eq(event.as_str()),
            mail_jobs::created_at.eq(now),
            mail_jobs::attempts.eq(0),
        ))
        .execute(conn)?;
    Ok(())
}

/// A pending job, as read.
type Job = (String, String, Option<String>, String);

/// What rendering one job gave.
enum Rendered {
    /// The facts and the e-mail (`None`: nothing to send, e.g. no demandeur).
    Ready(
        RequestEvent,
        Box<crate::instruction::MailFacts>,
        Option<crate::mail::NewEmail>,
    ),
    /// The template (or the stored event) failed: the job is marked failed.
    Failed(String),
}

/// Renders and queues pending jobs, in batches, until none is left; returns how many e-mails
/// were put in the outbox. Rendering runs outside any transaction; each batch is then queued
/// in one transaction that takes each job (a job another worker took is skipped).
pub fn run_pending(
    conn: &mut DbConnection,
    state: &AppState,
    now: NaiveDateTime,
) -> Result<usize, AppError> {
    let mut queued = 0;
    loop {
        let jobs: Vec<Job> = mail_jobs::table
            .filter(mail_jobs::failed_at.is_null())
            .order(mail_jobs::created_at.asc())
            .limit(BATCH)
            .select((
                mail_jobs::id,
                mail_jobs::request_id,
                mail_jobs::token_id,
                mail_jobs::event,
            ))
            .load(conn)?;
        if jobs.is_empty() {
            return Ok(queued);
        }
        let mut rendered = Vec::with_capacity(jobs.len());
        for (id, request_id, token_id, event) in jobs {
            let outcome = match event.parse::<RequestEvent>() {
                Err(_) => Rendered::Failed(format!("événement inconnu « {event} »")),
                Ok(event) => {
                    let facts =
                        crate::instruction::mail_facts(conn, &request_id, token_id.as_deref())?;
                    match crate::instruction::render_decision_email(state, event, &facts, None) {
                        Ok(email) => Rendered::Ready(event, Box::new(facts), email),
                        Err(e) => Rendered::Failed(crate::error::cause_chain(&e)),
                    }
                }
            };
            rendered.push((id, request_id, outcome));
        }
        queued += crate::db::transaction(conn, |conn| -> Result<usize, AppError> {
            let mut queued = 0;
            for (id, request_id, outcome) in &rendered {
                match outcome {
                    Rendered::Ready(event, facts, email) => {
                        let taken = diesel::delete(
                            mail_jobs::table
                                .find(id)
                                .filter(mail_jobs::failed_at.is_null()),
                        )
                        .execute(conn)?;
                        let Some(email) = email else { continue };
                        if taken == 0
                            || crate::instruction::hold_decision_email(
                                conn, state, *event, facts, now,
                            )?
                        {
                            continue;
                        }
                        crate::mail::outbox::enqueue(conn, email, now)?;
                        queued += 1;
                    }
                    Rendered::Failed(error) => {
                        tracing::error!(job = %id, request = %request_id, error = %error, "e-mail de décision : rendu impossible");
                        diesel::update(mail_jobs::table.find(id))
                            .set((
                                mail_jobs::attempts.eq(mail_jobs::attempts + 1),
                                mail_jobs::last_error.eq(Some(error)),
                                mail_jobs::failed_at.eq(Some(now)),
                            ))
                            .execute(conn)?;
                        crate::models::events::record(
                            conn,
                            now,
                            "system",
                            "email.render_failed",
                            ("request", request_id),
                            Some(format!("e-mail de décision non envoyé : {error}")),
                        )?;
                    }
                }
            }
            Ok(queued)
        })?;
    }
}

/// Runs the jobs until the process stops: at every poll interval, and at once when woken
/// (after a transaction that queued a job commits); wakes the sender when e-mails were queued.
pub fn spawn(state: web::Data<AppState>) {
    let wakeup: Arc<tokio::sync::Notify> = state.mailer.jobs_wakeup.clone();
    tokio::spawn(async move {
        loop {
            let worker = state.clone();
            let outcome = tokio::task::spawn_blocking(move || -> Result<usize, AppError> {
                let mut conn = worker.pool.get()?;
                run_pending(&mut conn, &worker, crate::db::now())
            })
            .await;
            match outcome {
                Ok(Ok(0)) => {}
                Ok(Ok(_)) => state.mailer.notify(),
                Ok(Err(e)) => tracing::warn!(error = %e, "e-mails de décision en attente"),
                Err(e) => tracing::warn!(error = %e, "e-mails de décision en attente"),
            }
            tokio::select! {
                () = tokio::time::sleep(state.mailer.settings.poll_interval) => {}
                () = wakeup.notified() => {}
            }
        }
    });
}
