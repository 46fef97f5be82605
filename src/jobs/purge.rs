//! The retention job: personal data is kept only as long as it is useful. Sign-in attempts and
//! links go after `RETENTION_SIGN_IN`, webhook bodies after `RETENTION_WEBHOOK_BODIES` (their
//! metadata — event, request, outcome — stays), bodies of sent e-mails after
//! `RETENTION_EMAIL_BODIES` (recipients, subject and dates stay), expired sessions at once.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::config::RetentionSettings;
use crate::db::DbConnection;
use crate::db::schema::{login_attempts, login_tokens, outbox, webhook_deliveries};

/// What replaces a purged webhook body.
pub const PURGED_PAYLOAD: &str = "[corps supprimé : durée de conservation écoulée]";
/// What replaces a purged e-mail body.
pub const PURGED_EMAIL_BODY: &str = "[contenu supprimé : durée de conservation écoulée]";

/// What one purge removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub login_attempts: usize,
    pub login_tokens: usize,
    pub webhook_bodies: usize,
    pub email_bodies: usize,
    pub sessions: usize,
}

impl std::fmt::Display for PurgeReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} tentative(s) de connexion, {} lien(s) de connexion, {} corps de webhook, {} corps d'e-mail, {} session(s) expirée(s)",
            self.login_attempts,
            self.login_tokens,
            self.webhook_bodies,
            self.email_bodies,
            self.sessions
        )
    }
}

fn before(now: NaiveDateTime, period: std::time::Duration) -> NaiveDateTime {
    now - Duration::from_std(period).unwrap_or(Duration::days(36_500))
}

/// Purges everything older than its retention period as of `now`, in one transaction.
pub fn purge(
    conn: &mut DbConnection,
    retention: &RetentionSettings,
    session_max_lifetime: std::time::Duration,
    now: NaiveDateTime,
) -> QueryResult<PurgeReport> {
    crate::db::transaction(conn, |conn| {
        let sign_in = before(now, retention.sign_in);
        let login_attempts =
            diesel::delete(login_attempts::table.filter(login_attempts::created_at.lt(sign_in)))
                .execute(conn)?;
        let login_tokens =
            diesel::delete(login_tokens::table.filter(login_tokens::created_at.lt(sign_in)))
                .execute(conn)?;
        let webhook_bodies = diesel::update(
            webhook_deliveries::table
                .filter(webhook_deliveries::received_at.lt(before(now, retention.webhook_bodies)))
                .filter(webhook_deliveries::payload.ne(PURGED_PAYLOAD)),
        )
        .set(webhook_deliveries::payload.eq(PURGED_PAYLOAD))
        .execute(conn)?;
        let email_bodies = diesel::update(
            outbox::table
                .filter(outbox::status.eq(crate::mail::outbox::SENT))
                .filter(outbox::sent_at.lt(before(now, retention.email_bodies)))
                .filter(outbox::text_body.ne(PURGED_EMAIL_BODY)),
        )
        .set((
            outbox::text_body.eq(PURGED_EMAIL_BODY),
            outbox::html_body.eq(PURGED_EMAIL_BODY),
        ))
        .execute(conn)?;
        let sessions = crate::auth::session::purge_expired(conn, now, session_max_lifetime)?;
        Ok(PurgeReport {
            login_attempts,
            login_tokens,
            webhook_bodies,
            email_bodies,
            sessions,
        })
    })
}

/// Runs the purge every `RETENTION`-configured interval in `serve`, logging what went.
pub fn spawn_scheduler(state: actix_web::web::Data<crate::state::AppState>) {
    tokio::spawn(async move {
        loop {
            let retention = state.settings.retention.clone();
            let max_lifetime = state.settings.session_max_lifetime;
            let outcome = state
                .db(move |conn| Ok(purge(conn, &retention, max_lifetime, crate::db::now())?))
                .await;
            match outcome {
                Ok(report) if report != PurgeReport::default() => {
                    tracing::info!("purge des données personnelles : {report}");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "purge des données personnelles en échec"),
            }
            tokio::time::sleep(state.settings.retention.interval).await;
        }
    });
}
