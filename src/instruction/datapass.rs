//! DataPass webhooks: signature check over the raw body, the payload as DataPass sends it,
//! and its idempotent application (same `(model_id, event, fired_at)` → same answer, nothing
//! applied twice; events older than the last one applied never move a request back).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime};
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

use super::mirror::{MirrorError, Source, mirror};
use crate::db::DbConnection;
use crate::db::new_id;
use crate::db::schema::{webhook_applied, webhook_deliveries};
use crate::domain::request_state::{RequestEvent, RequestState, RequestStatus};

/// The model types this back office handles.
pub const MODEL_TYPES: [&str; 2] = [
    "authorization_request/formulaire_qf",
    "authorization_request/api_particulier",
];

/// Whether `signature_header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`,
/// compared in constant time.
pub fn signature_valid(secret: &[u8], body: &[u8], signature_header: Option<&str>) -> bool {
    let Some(hex) = signature_header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Some(expected) = decode_hex(hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// The signature header value for `body` (for tests and tools).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    format!(
        "sha256={}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A number DataPass may send as a JSON number or a numeric string.
fn flexible_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| serde::de::Error::custom("nombre entier attendu")),
        Value::String(s) => s
            .trim()
            .trim_start_matches('D')
            .parse()
            .map_err(|_| serde::de::Error::custom("nombre entier attendu")),
        _ => Err(serde::de::Error::custom("nombre entier attendu")),
    }
}

/// A webhook body.
#[derive(Debug, Deserialize)]
pub struct Payload {
    pub event: String,
    #[serde(deserialize_with = "flexible_i64")]
    pub fired_at: i64,
    pub model_type: String,
    #[serde(deserialize_with = "flexible_i64")]
    pub model_id: i64,
    pub data: RequestData,
}

/// `null` read as the type's default (DataPass sends `null` for empty lists and maps).
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The request as DataPass describes it, in a webhook's `data` or as one demande of the pull
/// API (which spells `organisation` and `habilitations`, and adds `reopening` and `events`).
#[derive(Debug, Deserialize)]
pub struct RequestData {
    /// The request number (the pull API's `id`; the webhook repeats it as `model_id`).
    #[serde(default)]
    pub id: Option<Value>,
    /// The DataPass definition (pull API).
    #[serde(default)]
    pub definition_id: Option<String>,
    /// DataPass's state after the event: the truth.
    #[serde(default)]
    pub state: Option<String>,
    /// Whether this is the modification of a validated request (pull API).
    #[serde(default)]
    pub reopening: Option<bool>,
    #[serde(default)]
    pub form_uid: Option<String>,
    /// The form's fields, flat.
    #[serde(default, deserialize_with = "null_as_default")]
    pub data: HashMap<String, Value>,
    #[serde(alias = "organisation")]
    pub organization: Organization,
    pub applicant: Applicant,
    #[serde(default)]
    pub service_provider: Option<Value>,
    /// The habilitations (`authorizations` in webhooks, `habilitations` in the pull API).
    #[serde(default, alias = "habilitations", deserialize_with = "null_as_default")]
    pub authorizations: Vec<Value>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub last_submitted_at: Option<String>,
    #[serde(default)]
    pub last_validated_at: Option<String>,
    /// The request's events (pull API): `name`, `created_at`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub events: Vec<Value>,
}

/// The organisation (collectivité).
#[derive(Debug, Deserialize)]
pub struct Organization {
    #[serde(default)]
    pub name: Option<String>,
    pub siret: String,
    #[serde(default)]
    pub insee_payload: Option<Value>,
}

/// The demandeur.
#[derive(Debug, Deserialize)]
pub struct Applicant {
    pub email: String,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub job_title: Option<String>,
}

/// An answer to DataPass: status and JSON body.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    fn ok(body: Value) -> Answer {
        Answer { status: 200, body }
    }

    fn error(status: u16, code: &str, message: &str) -> Answer {
        Answer {
            status,
            body: json!({"error": code, "message": message}),
        }
    }

    /// The `error` code of an error answer.
    pub fn error_code(&self) -> Option<&str> {
        self.body.get("error").and_then(Value::as_str)
    }
}

/// What a delivery did, for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Applied to a request.
    Applied,
    /// A setup test, or an event older than the request's last one.
    Ignored,
    /// Already applied: the stored answer was sent again.
    Duplicate,
    /// Not a DataPass payload (400).
    Rejected,
    /// A DataPass payload that cannot be stored (an invalid SIRET, an unknown state): answered
    /// 200 so that DataPass does not disable the webhook, kept for staff to see and replay.
    Failed,
}

impl Outcome {
    /// The stored code.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Ignored => "ignored",
            Outcome::Duplicate => "duplicate",
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
        }
    }

    /// Whether staff may apply the delivery again.
    pub fn replayable(outcome: &str) -> bool {
        matches!(outcome, "rejected" | "failed")
    }
}

/// The result of processing one body.
#[derive(Clone, Debug)]
pub struct Processed {
    pub answer: Answer,
    pub outcome: Outcome,
    pub request_id: Option<String>,
    /// For the log: what was parsed of the body.
    pub event: Option<String>,
    pub model_type: Option<String>,
    pub model_id: Option<i64>,
    pub fired_at: Option<i64>,
    /// Set when an approval was applied (for the validation e-mail).
    pub approved_token: Option<String>,
    /// Differences between DataPass and the back office recorded by this delivery.
    pub differences: usize,
    /// The delivery's row in the log, once written.
    pub delivery_id: Option<String>,
    /// Whether a decision e-mail was queued for the mail worker (wake it after commit).
    pub mail_queued: bool,
}

impl Processed {
    fn rejected(answer: Answer) -> Processed {
        Processed {
            answer,
            outcome: Outcome::Rejected,
            request_id: None,
            event: None,
            model_type: None,
            model_id: None,
            fired_at: None,
            approved_token: None,
            differences: 0,
            delivery_id: None,
            mail_queued: false,
        }
    }
}

/// Processes one verified body and logs the delivery: an applied (or duplicate) delivery is
/// logged in the transaction that applies it, so one event is one transaction; a body that
/// was not applied (rejected, failed, rolled back) is logged on its own afterwards.
pub fn receive(
    conn: &mut DbConnection,
    body: &[u8],
    received_at: NaiveDateTime,
) -> QueryResult<Processed> {
    let mut processed = process(conn, body, received_at);
    if processed.delivery_id.is_none() {
        processed.delivery_id = Some(log_delivery(conn, received_at, &processed, body)?);
    }
    Ok(processed)
}

/// Processes one verified body inside a transaction: parse, deduplicate, apply, remember,
/// and log the delivery when it was applied. An approval also queues its validation e-mail
/// job in the same transaction (rendered by the mail worker after commit).
fn process(conn: &mut DbConnection, body: &[u8], received_at: NaiveDateTime) -> Processed {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => {
            return Processed::rejected(Answer::error(
                400,
                "invalid_json",
                "le corps n'est pas du JSON",
            ));
        }
    };
    if value.get("test").and_then(Value::as_bool) == Some(true) {
        return Processed {
            outcome: Outcome::Ignored,
            ..Processed::rejected(Answer::ok(json!({"status": "ok", "test": true})))
        };
    }
    let payload: Payload = match serde_json::from_value(value) {
        Ok(p) => p,
        Err(e) => {
            return Processed::rejected(Answer::error(
                400,
                "invalid_payload",
                &format!("charge utile DataPass illisible : {e}"),
            ));
        }
    };
    let mut processed = Processed {
        event: Some(payload.event.clone()),
        model_type: Some(payload.model_type.clone()),
        model_id: Some(payload.model_id),
        fired_at: Some(payload.fired_at),
        ..Processed::rejected(Answer::ok(json!({})))
    };
    if !MODEL_TYPES.contains(&payload.model_type.as_str()) {
        processed.answer = Answer::error(
            400,
            "unsupported_model_type",
            "type de modèle non pris en charge",
        );
        return processed;
    }
    let Ok(event) = payload.event.parse::<RequestEvent>() else {
        processed.answer = Answer::error(400, "unknown_event", "événement DataPass inconnu");
        return processed;
    };
    let Some(fired_at) = DateTime::from_timestamp(payload.fired_at, 0).map(|d| d.naive_utc())
    else {
        processed.answer = Answer::error(400, "invalid_fired_at", "fired_at hors limites");
        return processed;
    };

    let key = format!(
        "{}:{}:{}",
        payload.model_id, payload.event, payload.fired_at
    );
    let source = Source::Webhook { event, fired_at };
    // A concurrent first delivery about the same unknown request may win its creation: the
    // loser is rolled back and tried once more, and then finds the request.
    let delivery = Delivery {
        key: &key,
        payload: &payload,
        source,
        received_at,
        base: &processed,
        body,
    };
    let mut outcome = apply_once(conn, &delivery);
    if matches!(&outcome, Err(ApplyFailure::Database(e)) if is_unique_violation(e))
        && !already_applied(conn, &key)
    {
        outcome = apply_once(conn, &delivery);
    }
    match outcome {
        Ok(applied) => return applied,
        Err(ApplyFailure::Failed(answer)) => {
            processed.answer = answer;
            processed.outcome = Outcome::Failed;
        }
        Err(ApplyFailure::Database(e)) => {
            // A concurrent identical delivery won the unique key: answer as it did.
            if is_unique_violation(&e)
                && let Ok(Some((status, body))) = webhook_applied::table
                    .find(&key)
                    .select((webhook_applied::http_status, webhook_applied::response_body))
                    .first::<(i32, String)>(conn)
                    .optional()
            {
                processed.answer = Answer {
                    status: u16::try_from(status).unwrap_or(200),
                    body: serde_json::from_str(&body).unwrap_or(Value::Null),
                };
                processed.outcome = Outcome::Duplicate;
                return processed;
            }
            tracing::error!(error = %crate::error::cause_chain(&e), "webhook DataPass : base de données");
            processed.answer = Answer::error(500, "database_error", "erreur interne, réessayez");
        }
    }
    processed
}

fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

fn already_applied(conn: &mut DbConnection, key: &str) -> bool {
    webhook_applied::table
        .find(key)
        .select(webhook_applied::dedup_key)
        .first::<String>(conn)
        .optional()
        .ok()
        .flatten()
        .is_some()
}

/// One parsed delivery to apply.
struct Delivery<'a> {
    key: &'a str,
    payload: &'a Payload,
    source: Source,
    received_at: NaiveDateTime,
    /// What was parsed of the body (event, model), for the log.
    base: &'a Processed,
    body: &'a [u8],
}

/// One transaction: the stored answer of a duplicate, or the payload mirrored, its e-mail
/// job queued and its answer remembered; then the delivery logged.
fn apply_once(conn: &mut DbConnection, delivery: &Delivery) -> Result<Processed, ApplyFailure> {
    let Delivery {
        key,
        payload,
        source,
        received_at,
        ..
    } = *delivery;
    crate::db::transaction(conn, |conn| -> Result<_, ApplyFailure> {
        let mut processed = apply_in(conn, key, payload, source, received_at, delivery.base)?;
        processed.delivery_id = Some(log_delivery(conn, received_at, &processed, delivery.body)?);
        Ok(processed)
    })
}

/// The body of [`apply_once`]'s transaction, before the log.
fn apply_in(
    conn: &mut DbConnection,
    key: &str,
    payload: &Payload,
    source: Source,
    received_at: NaiveDateTime,
    base: &Processed,
) -> Result<Processed, ApplyFailure> {
    {
        if let Some((status, body, request_id)) = webhook_applied::table
            .find(key)
            .select((
                webhook_applied::http_status,
                webhook_applied::response_body,
                webhook_applied::request_id,
            ))
            .first::<(i32, String, Option<String>)>(conn)
            .optional()?
        {
            let body = serde_json::from_str(&body).unwrap_or(Value::Null);
            return Ok(Processed {
                answer: Answer {
                    status: u16::try_from(status).unwrap_or(200),
                    body,
                },
                outcome: Outcome::Duplicate,
                request_id,
                ..base.clone()
            });
        }
        let mirrored = mirror(conn, payload.model_id, &payload.data, source, received_at)
            .map_err(|e| match e {
                MirrorError::Database(e) => ApplyFailure::Database(e),
                other => ApplyFailure::Failed(Answer {
                    status: 200,
                    body: json!({
                        "status": "failed",
                        "error": other.code(),
                        "message": format!("{other} : livraison conservée, l'équipe peut la rejouer"),
                    }),
                }),
            })?;
        let event = match source {
            Source::Webhook { event, .. } => Some(event),
            Source::Sync { .. } => None,
        };
        let mut token = match (&mirrored.token, event) {
            (Some((id, _)), Some(RequestEvent::Approve)) => Some(id.clone()),
            _ => None,
        };
        // An approval seen before (by the reconciliation, or an earlier delivery) is answered
        // with the token in force, without a second e-mail.
        if token.is_none()
            && event == Some(RequestEvent::Approve)
            && mirrored.stale
            && mirrored.status == Some(RequestStatus::new(RequestState::Validated, false))
        {
            token = super::live_token_of(conn, &mirrored.request_id)?;
        }
        let fresh_token = mirrored
            .token
            .as_ref()
            .is_some_and(|(_, action)| *action != super::TokenAction::Kept);
        let mail_queued = token.is_some() && fresh_token;
        if let (Some(token), true) = (&token, mail_queued) {
            crate::mail::jobs::queue(
                conn,
                &mirrored.request_id,
                Some(token),
                RequestEvent::Approve,
                received_at,
            )?;
        }
        let (answer, outcome) = if mirrored.stale {
            match &token {
                Some(id) => (
                    Answer::ok(
                        json!({"token_id": id, "status": "ignored", "reason": "stale_event"}),
                    ),
                    Outcome::Ignored,
                ),
                None => (
                    Answer::ok(json!({"status": "ignored", "reason": "stale_event"})),
                    Outcome::Ignored,
                ),
            }
        } else {
            match &token {
                Some(id) => (Answer::ok(json!({"token_id": id})), Outcome::Applied),
                None => (Answer::ok(json!({"status": "ok"})), Outcome::Applied),
            }
        };
        diesel::insert_into(webhook_applied::table)
            .values((
                webhook_applied::dedup_key.eq(key),
                webhook_applied::request_id.eq(Some(&mirrored.request_id)),
                webhook_applied::http_status.eq(i32::from(answer.status)),
                webhook_applied::response_body.eq(answer.body.to_string()),
                webhook_applied::applied_at.eq(received_at),
            ))
            .execute(conn)?;
        Ok(Processed {
            answer,
            outcome,
            request_id: Some(mirrored.request_id),
            approved_token: token,
            differences: mirrored.differences,
            mail_queued,
            ..base.clone()
        })
    }
}

/// Why a payload was not applied (the transaction is rolled back).
enum ApplyFailure {
    /// Kept as failed, answered 200.
    Failed(Answer),
    Database(diesel::result::Error),
}

impl From<diesel::result::Error> for ApplyFailure {
    fn from(e: diesel::result::Error) -> Self {
        ApplyFailure::Database(e)
    }
}

/// Logs a delivery (in its own statement, so a rolled-back application still leaves a trace).
pub fn log_delivery(
    conn: &mut DbConnection,
    received_at: NaiveDateTime,
    processed: &Processed,
    payload: &[u8],
) -> QueryResult<String> {
    let id = new_id();
    diesel::insert_into(webhook_deliveries::table)
        .values((
            webhook_deliveries::id.eq(&id),
            webhook_deliveries::received_at.eq(received_at),
            webhook_deliveries::event.eq(&processed.event),
            webhook_deliveries::model_type.eq(&processed.model_type),
            webhook_deliveries::model_id.eq(processed.model_id),
            webhook_deliveries::fired_at.eq(processed.fired_at),
            webhook_deliveries::request_id.eq(&processed.request_id),
            webhook_deliveries::outcome.eq(processed.outcome.as_str()),
            webhook_deliveries::http_status.eq(i32::from(processed.answer.status)),
            webhook_deliveries::response_body.eq(processed.answer.body.to_string()),
            webhook_deliveries::error_code.eq(processed.answer.error_code()),
            webhook_deliveries::error_message.eq(processed
                .answer
                .body
                .get("message")
                .and_then(Value::as_str)),
            webhook_deliveries::payload.eq(String::from_utf8_lossy(payload).into_owned()),
        ))
        .execute(conn)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked_exactly() {
        let secret = b"un-secret-partage-assez-long";
        let body = br#"{"test":true}"#;
        let header = sign(secret, body);
        assert!(header.starts_with("sha256="));
        assert!(signature_valid(secret, body, Some(&header)));
        assert!(signature_valid(secret, body, Some(&format!("  {header} "))));
        assert!(!signature_valid(secret, b"{\"test\":false}", Some(&header)));
        assert!(!signature_valid(
            b"autre-secret-partage-long",
            body,
            Some(&header)
        ));
        assert!(!signature_valid(secret, body, None));
        assert!(!signature_valid(secret, body, Some("sha256=zz")));
        assert!(!signature_valid(
            secret,
            body,
            Some(header.trim_start_matches("sha256="))
        ));
    }
}
