//! Delivers the outbox: SMTP when `SMTP_URL` is set, `.eml` files otherwise. A failing
//! server only delays an e-mail: it stays queued and is retried with a growing delay.

use std::sync::Arc;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::Notify;

use super::outbox::{self, OutboxEmail};
use crate::config::MailSettings;
use crate::db::Pool;

/// Where e-mails go.
#[derive(Clone)]
pub enum Transport {
    /// A real SMTP server.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `.eml` files in a folder (no mail server on a laptop).
    Files(AsyncFileTransport<Tokio1Executor>),
}

impl Transport {
    /// Builds the transport the settings name (creating the `.eml` folder if needed).
    pub fn from_settings(mail: &MailSettings) -> anyhow::Result<Transport> {
        match &mail.smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    .map_err(|_| anyhow::anyhow!("SMTP_URL : URL SMTP invalide"))?
                    .timeout(Some(std::time::Duration::from_secs(20)))
                    .build();
                Ok(Transport::Smtp(transport))
            }
            None => {
                std::fs::create_dir_all(&mail.outbox_dir).map_err(|e| {
                    anyhow::anyhow!(
                        "MAIL_OUTBOX_DIR : impossible de créer {} ({e})",
                        mail.outbox_dir.display()
                    )
                })?;
                Ok(Transport::Files(AsyncFileTransport::new(&mail.outbox_dir)))
            }
        }
    }

    async fn send(&self, message: Message) -> Result<(), String> {
        match self {
            Transport::Smtp(smtp) => smtp
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Transport::Files(files) => files
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
        }
    }
}

/// The sender: its transport, settings, and a bell that wakes it when mail is queued.
pub struct Mailer {
    pub transport: Transport,
    pub settings: MailSettings,
    pub wakeup: Arc<Notify>,
    /// Wakes the decision e-mail worker (see [`super::jobs`]).
    pub jobs_wakeup: Arc<Notify>,
}

impl Mailer {
    /// Builds the sender from settings.
    pub fn new(settings: &MailSettings) -> anyhow::Result<Mailer> {
        Ok(Mailer {
            transport: Transport::from_settings(settings)?,
            settings: settings.clone(),
            wakeup: Arc::new(Notify::new()),
            jobs_wakeup: Arc::new(Notify::new()),
        })
    }

    /// Tells the sender new mail is queued (call after the transaction commits).
    pub fn notify(&self) {
        self.wakeup.notify_one();
    }

    /// Tells the decision e-mail worker a job is queued (call after the transaction commits).
    pub fn notify_jobs(&self) {
        self.jobs_wakeup.notify_one();
    }
}

/// Builds the MIME message of an outbox row; its Message-ID is the row id, so a receiver can
/// tell a redelivery from a new e-mail.
pub fn build_message(from: &str, email: &OutboxEmail) -> Result<Message, String> {
    let from: Mailbox = from
        .parse()
        .map_err(|e| format!("expéditeur invalide : {e}"))?;
    let mut builder = Message::builder()
        .from(from)
        .subject(email.subject.clone())
        .message_id(Some(format!("<{}@qf-backoffice>", email.id)));
    // Every recipient must be exactly one mailbox: a stored value is never a list.
    for address in email.to_list().iter().chain(email.cc_list().iter()) {
        crate::domain::email::EmailAddress::parse(address)
            .map_err(|e| format!("destinataire refusé : {e}"))?;
    }
    for to in email.to_list() {
        builder = builder.to(to
            .parse()
            .map_err(|e| format!("destinataire invalide « {to} » : {e}"))?);
    }
    for cc in email.cc_list() {
        builder = builder.cc(cc
            .parse()
            .map_err(|e| format!("destinataire en copie invalide « {cc} » : {e}"))?);
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            email.text_body.clone(),
            email.html_body.clone(),
        ))
        .map_err(|e| format!("message invalide : {e}"))
}

/// Delivers every due e-mail once; returns how many were sent.
pub async fn sweep(pool: &Pool, mailer: &Mailer) -> anyhow::Result<usize> {
    let lock_for = chrono::Duration::minutes(5);
    let mut sent = 0;
    loop {
        let claim_pool = pool.clone();
        let batch = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<OutboxEmail>> {
            let mut conn = claim_pool.get()?;
            Ok(outbox::claim_due(
                &mut conn,
                crate::db::now(),
                lock_for,
                20,
            )?)
        })
        .await??;
        if batch.is_empty() {
            return Ok(sent);
        }
        for email in batch {
            let outcome = match build_message(&mailer.settings.from, &email) {
                Ok(message) => mailer.transport.send(message).await,
                Err(e) => Err(e),
            };
            let record_pool = pool.clone();
            let settings = mailer.settings.clone();
            let delivered = outcome.is_ok();
            tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                let mut conn = record_pool.get()?;
                let now = crate::db::now();
                match outcome {
                    Ok(()) => {
                        crate::db::transaction(&mut conn, |conn| {
                            outbox::mark_sent(conn, &email.id, now)?;
                            crate::models::events::record(
                                conn,
                                now,
                                "system",
                                "email.sent",
                                ("email", &email.id),
                                Some(format!(
                                    "« {} » à {}{}",
                                    email.subject,
                                    email.to_addresses,
                                    if email.cc_addresses.is_empty() {
                                        String::new()
                                    } else {
                                        format!(" (copie : {})", email.cc_addresses)
                                    }
                                )),
                            )
                        })?;
                    }
                    Err(error) => {
                        let status = outbox::mark_attempt_failed(
                            &mut conn,
                            &email.id,
                            &error,
                            now,
                            settings.retry_delay,
                            settings.max_attempts,
                        )?;
                        tracing::warn!(email = %email.id, status, error = %error, "envoi d'e-mail en échec");
                    }
                }
                Ok(())
            })
            .await??;
            if delivered {
                sent += 1;
            }
        }
    }
}

/// Runs the sender until the process stops: at every poll interval, and at once when woken.
pub fn spawn(pool: Pool, mailer: Arc<Mailer>) {
    tokio::spawn(async move {
        loop {
            if let Err(e) = sweep(&pool, &mailer).await {
                tracing::warn!(error = %format!("{e:#}"), "boucle d'envoi des e-mails");
            }
            tokio::select! {
                () = tokio::time::sleep(mailer.settings.poll_interval) => {}
                () = mailer.wakeup.notified() => {}
            }
        }
    });
}
