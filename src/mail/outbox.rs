//! The outbox table: e-mails are inserted in the transaction of the action that causes them,
//! then claimed, sent and marked by the sender loop. A claim is a conditional update, so two
//! senders never send the same row at once; a crashed sender's claim expires.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::NewEmail;
use crate::db::DbConnection;
use crate::db::schema::outbox;
use crate::db::{Page, contains_pattern, offset};

/// Waiting for (re)delivery.
pub const QUEUED: &str = "queued";
/// Claimed by a sender right now.
pub const SENDING: &str = "sending";
/// Delivered.
pub const SENT: &str = "sent";
/// Given up after too many failures; staff may retry it.
pub const FAILED: &str = "failed";
/// Every status, for filters.
pub const STATUSES: [&str; 4] = [QUEUED, SENDING, SENT, FAILED];

/// The French label of a status.
pub fn status_label(status: &str) -> &'static str {
    match status {
        QUEUED => "En attente",
        SENDING => "En cours d'envoi",
        SENT => "Envoyé",
        FAILED => "En échec",
        _ => "Inconnu",
    }
}

/// One e-mail of the outbox.
#[derive(Clone, Debug, Queryable, Selectable, Insertable, Identifiable, serde::Serialize)]
#[diesel(table_name = outbox, treat_none_as_default_value = false)]
pub struct OutboxEmail {
    pub id: String,
    pub template: String,
    /// Comma-separated recipients.
    pub to_addresses: String,
    /// Comma-separated recipients in copy.
    pub cc_addresses: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub locked_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub related_type: Option<String>,
    pub related_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
}

impl OutboxEmail {
    /// The recipients, split.
    pub fn to_list(&self) -> Vec<String> {
        split(&self.to_addresses)
    }

    /// The recipients in copy, split.
    pub fn cc_list(&self) -> Vec<String> {
        split(&self.cc_addresses)
    }
}

fn split(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Queues an e-mail; call it inside the transaction of the action that causes it. Every
/// recipient must be exactly one mailbox (a list would be split into extra recipients when
/// sent): otherwise nothing is queued and the action fails.
pub fn enqueue(
    conn: &mut DbConnection,
    email: &NewEmail,
    now: NaiveDateTime,
) -> QueryResult<String> {
    for address in email.to.iter().chain(email.cc.iter()) {
        crate::domain::email::EmailAddress::parse(address)
            .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    }
    let id = crate::db::new_id();
    let (related_type, related_id) = email
        .related
        .clone()
        .map_or((None, None), |(t, i)| (Some(t), Some(i)));
    diesel::insert_into(outbox::table)
        .values(OutboxEmail {
            id: id.clone(),
            template: email.template.clone(),
            to_addresses: email.to.join(", "),
            cc_addresses: email.cc.join(", "),
            subject: email.subject.clone(),
            text_body: email.text.clone(),
            html_body: email.html.clone(),
            status: QUEUED.to_owned(),
            attempts: 0,
            next_attempt_at: now,
            locked_until: None,
            last_error: None,
            related_type,
            related_id,
            created_at: now,
            sent_at: None,
        })
        .execute(conn)?;
    Ok(id)
}

/// Claims up to `limit` due e-mails for `lock_for`; returns the ones this caller won. One write
/// transaction: on SQLite it waits its turn once in the process's writer queue instead of
/// sleeping in `busy_timeout` for each e-mail while the webhook writer holds the lock.
pub fn claim_due(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    lock_for: Duration,
    limit: i64,
) -> QueryResult<Vec<OutboxEmail>> {
    crate::db::transaction(conn, |conn| claim_due_in(conn, now, lock_for, limit))
}

fn claim_due_in(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    lock_for: Duration,
    limit: i64,
) -> QueryResult<Vec<OutboxEmail>> {
    let due = || {
        outbox::status
            .eq(QUEUED)
            .and(outbox::next_attempt_at.le(now))
            .or(outbox::status.eq(SENDING).and(outbox::locked_until.lt(now)))
    };
    let candidates: Vec<String> = outbox::table
        .filter(due())
        .order(outbox::created_at.asc())
        .limit(limit)
        .select(outbox::id)
        .load(conn)?;
    let mut claimed = Vec::with_capacity(candidates.len());
    for id in candidates {
        let won = crate::db::cached::update(
            outbox::table,
            outbox::id.eq(&id).and(due()),
            (
                outbox::status.eq(SENDING),
                outbox::locked_until.eq(now + lock_for),
            ),
        )
        .execute(conn)?;
        if won == 1 {
            claimed.push(
                outbox::table
                    .find(&id)
                    .select(OutboxEmail::as_select())
                    .first(conn)?,
            );
        }
    }
    Ok(claimed)
}

/// Templates whose body holds a secret (a live sign-in link): redacted once delivered.
pub const SECRET_TEMPLATES: [&str; 1] = ["login_link"];
/// What replaces the body of a delivered e-mail carrying a secret.
pub const REDACTED_BODY: &str = "[contenu masqué : il contient un lien de connexion personnel]";

/// Marks a claimed e-mail as delivered; a sign-in e-mail loses its body (and its link), in the
/// same transaction.
pub fn mark_sent(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<()> {
    crate::db::transaction(conn, |conn| mark_sent_in(conn, id, now))
}

fn mark_sent_in(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<()> {
    crate::db::cached::update(
        outbox::table,
        outbox::id.eq(id),
        (
            outbox::status.eq(SENT),
            outbox::sent_at.eq(Some(now)),
            outbox::locked_until.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(None::<String>),
            outbox::attempts.eq(outbox::attempts + 1),
        ),
    )
    .execute(conn)?;
    crate::db::cached::update(
        outbox::table,
        outbox::id
            .eq(id)
            .and(outbox::template.eq_any(SECRET_TEMPLATES)),
        (
            outbox::text_body.eq(REDACTED_BODY),
            outbox::html_body.eq(REDACTED_BODY),
        ),
    )
    .execute(conn)?;
    Ok(())
}

/// The delay before attempt `attempts + 1`: `base` doubled at each failure, at most one hour.
pub fn backoff(base: std::time::Duration, attempts: i32) -> Duration {
    let factor = 2u32.saturating_pow(attempts.clamp(0, 20) as u32 - (attempts > 0) as u32);
    let delay = base
        .saturating_mul(factor)
        .min(std::time::Duration::from_secs(3600));
    Duration::from_std(delay).unwrap_or(Duration::hours(1))
}

/// Records a failed attempt: requeued after a backoff, or failed after `max_attempts`.
/// Returns the new status.
pub fn mark_attempt_failed(
    conn: &mut DbConnection,
    id: &str,
    error: &str,
    now: NaiveDateTime,
    base: std::time::Duration,
    max_attempts: i32,
) -> QueryResult<&'static str> {
    let attempts: i32 = outbox::table
        .find(id)
        .select(outbox::attempts)
        .first(conn)?;
    let attempts = attempts + 1;
    let status = if attempts >= max_attempts {
        FAILED
    } else {
        QUEUED
    };
    let error: String = error.chars().take(500).collect();
    crate::db::cached::update(
        outbox::table,
        outbox::id.eq(id),
        (
            outbox::status.eq(status),
            outbox::attempts.eq(attempts),
            outbox::next_attempt_at.eq(now + backoff(base, attempts)),
            outbox::locked_until.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(Some(error)),
        ),
    )
    .execute(conn)?;
    Ok(status)
}

/// Puts a failed e-mail back in the queue, due now. Returns false if it was not failed.
pub fn retry(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(outbox::table.find(id).filter(outbox::status.eq(FAILED)))
        .set((
            outbox::status.eq(QUEUED),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(now),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// One e-mail by id.
pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<OutboxEmail>> {
    outbox::table
        .find(id)
        .select(OutboxEmail::as_select())
        .first(conn)
        .optional()
}

/// Rows per page of the outbox list.
pub const PER_PAGE: i64 = 30;

/// The outbox, newest first, filtered by status and by address or subject.
pub fn list(
    conn: &mut DbConnection,
    status: Option<&str>,
    query: &str,
    page: i64,
) -> QueryResult<Page<OutboxEmail>> {
    let filtered = || {
        let mut q = outbox::table.into_boxed();
        if let Some(status) = status {
            q = q.filter(outbox::status.eq(status.to_owned()));
        }
        if !query.trim().is_empty() {
            let pattern = contains_pattern(query);
            q = q.filter(
                crate::db::lower(outbox::to_addresses)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(crate::db::lower(outbox::cc_addresses)
                        .like(pattern.clone())
                        .escape('\\'))
                    .or(crate::db::lower(outbox::subject).like(pattern).escape('\\')),
            );
        }
        q
    };
    let total: i64 = filtered().count().get_result(conn)?;
    let page = crate::db::clamp_page(page, total, PER_PAGE);
    let items = filtered()
        .order((outbox::created_at.desc(), outbox::id.desc()))
        .limit(PER_PAGE)
        .offset(offset(page, PER_PAGE))
        .select(OutboxEmail::as_select())
        .load(conn)?;
    Ok(Page::new(items, page, PER_PAGE, total))
}

/// Number of e-mails per status.
pub fn count_by_status(conn: &mut DbConnection) -> QueryResult<Vec<(String, i64)>> {
    outbox::table
        .group_by(outbox::status)
        .select((outbox::status, diesel::dsl::count_star()))
        .load(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let base = std::time::Duration::from_secs(30);
        assert_eq!(backoff(base, 1), Duration::seconds(30));
        assert_eq!(backoff(base, 2), Duration::seconds(60));
        assert_eq!(backoff(base, 3), Duration::seconds(120));
        assert_eq!(backoff(base, 30), Duration::hours(1));
    }
}
