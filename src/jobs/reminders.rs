//! The renewal reminder sweep: reads only tokens whose `next_reminder_on` has come (an indexed
//! column), claims each reminder in `token_reminders` under a unique
//! `(token, expiry date, stage)` key, queues the e-mail in the same transaction and moves the
//! token's next reminder day. Reruns, crashes and concurrent instances never send twice.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::new_id;
use crate::db::schema::{
    collectivites, habilitation_requests, habilitations, request_contacts, token_reminders, tokens,
};
use crate::domain::reminders::{due_stage, headline_fr, next_due_on};
use crate::domain::token::days_left;
use crate::models::events;
use crate::models::requests::roles;
use crate::state::AppState;

/// Tokens handled per transaction.
const BATCH: i64 = 200;

/// One reminder queued by a sweep.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Sent {
    pub token_id: String,
    pub stage: u32,
    pub days_left: i64,
    pub to: String,
    pub collectivite: String,
}

/// What a sweep did.
#[derive(Debug, Default)]
pub struct SweepReport {
    /// Reminders claimed and queued.
    pub sent: Vec<Sent>,
    /// Claimed by another instance first.
    pub already_claimed: usize,
    /// Due, but with no demandeur to write to (logged for staff).
    pub without_recipient: usize,
    /// Out of the window (expired for too long): series closed without a reminder.
    pub closed: usize,
}

type DueToken = (String, NaiveDate, Option<NaiveDate>, String, String);

/// Sends what is due on `now`'s day. Each batch is one transaction; each token a savepoint,
/// so a reminder claimed meanwhile by another instance only skips that token.
pub fn sweep(
    conn: &mut DbConnection,
    state: &AppState,
    now: NaiveDateTime,
) -> Result<SweepReport, crate::error::AppError> {
    let today = crate::domain::calendar::paris_date(now);
    let mut report = SweepReport::default();
    let mut skipped: Vec<String> = Vec::new();
    loop {
        let due: Vec<DueToken> = tokens::table
            .inner_join(habilitations::table.inner_join(habilitation_requests::table))
            .inner_join(collectivites::table)
            .filter(tokens::next_reminder_on.le(today))
            .filter(tokens::revoked_at.is_null())
            // Paused while the habilitation is being modified (its approval prolongs the
            // token; a refusal or cancellation resumes the reminders where they stand).
            .filter(habilitation_requests::reopening.eq(false))
            .filter(tokens::id.ne_all(&skipped))
            .order((tokens::next_reminder_on.asc(), tokens::id.asc()))
            .limit(BATCH)
            .select((
                tokens::id,
                tokens::expires_on,
                tokens::next_reminder_on,
                habilitations::request_id,
                collectivites::name,
            ))
            .load(conn)?;
        if due.is_empty() {
            break;
        }
        let count = due.len();
        crate::db::transaction(conn, |conn| -> Result<(), crate::error::AppError> {
            for token in &due {
                // A savepoint per token: a unique violation undoes only this one.
                let outcome = conn.transaction(|conn| remind_one(conn, state, token, now));
                match outcome {
                    Ok(Outcome::Sent(sent)) => report.sent.push(sent),
                    Ok(Outcome::NoRecipient) => report.without_recipient += 1,
                    Ok(Outcome::Closed) => report.closed += 1,
                    Ok(Outcome::NotDue) => skipped.push(token.0.clone()),
                    Err(crate::error::AppError::Database(
                        diesel::result::Error::DatabaseError(
                            diesel::result::DatabaseErrorKind::UniqueViolation,
                            _,
                        ),
                    )) => {
                        report.already_claimed += 1;
                        skipped.push(token.0.clone());
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })?;
        if (count as i64) < BATCH {
            break;
        }
    }
    Ok(report)
}

enum Outcome {
    Sent(Sent),
    NoRecipient,
    Closed,
    NotDue,
}

fn remind_one(
    conn: &mut DbConnection,
    state: &AppState,
    token: &DueToken,
    now: NaiveDateTime,
) -> Result<Outcome, crate::error::AppError> {
    let (token_id, expires_on, next_on, request_id, collectivite) = token;
    let today = crate::domain::calendar::paris_date(now);
    let Some(stage) = due_stage(*expires_on, today) else {
        // Too early (should not happen: next_reminder_on says otherwise) or too late.
        let left = days_left(*expires_on, today);
        let next = if left > 0 {
            next_due_on(*expires_on, None)
        } else {
            None
        };
        if next.is_some_and(|n| n <= today) {
            return Ok(Outcome::NotDue);
        }
        diesel::update(tokens::table.find(token_id))
            .set(tokens::next_reminder_on.eq(next))
            .execute(conn)?;
        return Ok(if next.is_none() {
            Outcome::Closed
        } else {
            Outcome::NotDue
        });
    };
    let left = days_left(*expires_on, today);
    // Claim first: the unique key makes this the only instance sending this reminder.
    let reminder_id = new_id();
    diesel::insert_into(token_reminders::table)
        .values((
            token_reminders::id.eq(&reminder_id),
            token_reminders::token_id.eq(token_id),
            token_reminders::expires_on.eq(expires_on),
            token_reminders::stage.eq(stage as i32),
            token_reminders::days_left.eq(left as i32),
            token_reminders::claimed_at.eq(now),
        ))
        .execute(conn)?;
    // Only move the schedule if nobody changed it since it was read (e.g. a prolongation).
    diesel::update(
        tokens::table
            .find(token_id)
            .filter(tokens::next_reminder_on.eq(next_on))
            .filter(tokens::expires_on.eq(expires_on)),
    )
    .set(tokens::next_reminder_on.eq(next_due_on(*expires_on, Some(stage))))
    .execute(conn)?;

    let contacts: Vec<(String, String)> = request_contacts::table
        .filter(request_contacts::request_id.eq(request_id))
        .select((request_contacts::role, request_contacts::email))
        .load(conn)?;
    let email_of = |role: &str| {
        contacts
            .iter()
            .find(|(r, _)| r == role)
            .map(|(_, e)| e.clone())
    };
    let Some(demandeur) = email_of(roles::DEMANDEUR) else {
        events::record(
            conn,
            now,
            "system",
            "reminder.no_recipient",
            ("token", token_id),
            Some(format!("rappel J-{stage} non envoyé : aucun demandeur")),
        )?;
        return Ok(Outcome::NoRecipient);
    };
    let cc: Vec<String> = email_of(roles::CONTACT_TECHNIQUE)
        .into_iter()
        .filter(|c| *c != demandeur)
        .collect();
    let mut context = tera::Context::new();
    context.insert("collectivite", collectivite);
    context.insert("days_left", &left);
    context.insert("headline", &headline_fr(left));
    context.insert("expires_on", expires_on);
    context.insert("token_id", token_id);
    context.insert(
        "prolongation_url",
        &format!(
            "{}/jetons/{token_id}/prolongation",
            state.settings.public_url
        ),
    );
    let mut email = state.render_email("token_reminder", vec![demandeur.clone()], cc, context)?;
    email.related = Some(("token".into(), token_id.clone()));
    // The outbox runs on the real clock, whatever day the sweep is computed for.
    let email_id = crate::mail::outbox::enqueue(conn, &email, crate::db::now())?;
    diesel::update(token_reminders::table.find(&reminder_id))
        .set(token_reminders::email_id.eq(Some(&email_id)))
        .execute(conn)?;
    events::record(
        conn,
        now,
        "system",
        "reminder.queue",
        ("token", token_id),
        Some(format!(
            "rappel J-{stage} ({}) à {demandeur}",
            headline_fr(left)
        )),
    )?;
    Ok(Outcome::Sent(Sent {
        token_id: token_id.clone(),
        stage,
        days_left: left,
        to: demandeur,
        collectivite: collectivite.clone(),
    }))
}

/// Runs the sweep every `interval` until the process stops (the in-process scheduler).
pub fn spawn_scheduler(state: actix_web::web::Data<AppState>, interval: std::time::Duration) {
    tokio::spawn(async move {
        loop {
            let worker = state.clone();
            let outcome = state
                .db(move |conn| sweep(conn, &worker, crate::db::now()))
                .await;
            match outcome {
                Ok(report) if !report.sent.is_empty() => {
                    tracing::info!(sent = report.sent.len(), "rappels d'expiration mis en file");
                    state.mailer.notify();
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "balayage des rappels en échec"),
            }
            tokio::time::sleep(interval).await;
        }
    });
}
