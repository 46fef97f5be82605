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

use super::{Actor, InstructionError, apply_event};
use crate::db::DbConnection;
use crate::db::schema::{
    collectivites, editeur_forms, habilitation_requests, request_contacts, webhook_applied,
    webhook_deliveries,
};
use crate::domain::request_state::RequestEvent;
use crate::domain::siret::Siret;
use crate::models::collectivites::Collectivite;
use crate::models::requests::{HabilitationRequest, RequestContact, roles};
use crate::models::{events, new_id};

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

/// The request as DataPass describes it.
#[derive(Debug, Deserialize)]
pub struct RequestData {
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub form_uid: Option<String>,
    /// The form's fields, flat.
    #[serde(default)]
    pub data: HashMap<String, Value>,
    pub organization: Organization,
    pub applicant: Applicant,
    #[serde(default)]
    pub service_provider: Option<Value>,
    #[serde(default)]
    pub authorizations: Vec<Value>,
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
    /// Not a DataPass payload (400) or not applicable (422).
    Rejected,
}

impl Outcome {
    /// The stored code.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Ignored => "ignored",
            Outcome::Duplicate => "duplicate",
            Outcome::Rejected => "rejected",
        }
    }
}

/// The result of processing one body.
#[derive(Debug)]
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
        }
    }
}

fn text(data: &HashMap<String, Value>, key: &str) -> Option<String> {
    match data.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn scopes(data: &HashMap<String, Value>) -> String {
    match data.get("scopes") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

fn insee_field(payload: Option<&Value>, field: &str) -> Option<String> {
    let etablissement = payload?.get("etablissement").unwrap_or(payload?);
    etablissement
        .get("adresseEtablissement")
        .and_then(|a| a.get(field))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Processes one verified body inside a transaction: parse, deduplicate, apply, remember.
/// With an application state, an approval also queues the validation e-mail in the same
/// transaction.
pub fn process(
    conn: &mut DbConnection,
    state: Option<&crate::state::AppState>,
    body: &[u8],
    received_at: NaiveDateTime,
) -> Processed {
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
    let outcome = crate::db::transaction(conn, |conn| -> Result<_, ApplyFailure> {
        if let Some((status, body, request_id)) = webhook_applied::table
            .find(&key)
            .select((
                webhook_applied::http_status,
                webhook_applied::response_body,
                webhook_applied::request_id,
            ))
            .first::<(i32, String, Option<String>)>(conn)
            .optional()?
        {
            let body = serde_json::from_str(&body).unwrap_or(Value::Null);
            return Ok((
                Answer {
                    status: u16::try_from(status).unwrap_or(200),
                    body,
                },
                Outcome::Duplicate,
                request_id,
                None,
            ));
        }
        let (answer, outcome, request_id, token) =
            apply_payload(conn, &payload, event, fired_at, received_at)?;
        if let (Some(state), Some(request_id), Some(token)) = (state, &request_id, &token) {
            let facts = super::mail_facts(conn, request_id, Some(token))?;
            super::queue_decision_email(conn, state, event, &facts, None, received_at)
                .map_err(|e| ApplyFailure::Internal(e.to_string()))?;
        }
        diesel::insert_into(webhook_applied::table)
            .values((
                webhook_applied::dedup_key.eq(&key),
                webhook_applied::request_id.eq(&request_id),
                webhook_applied::http_status.eq(i32::from(answer.status)),
                webhook_applied::response_body.eq(answer.body.to_string()),
                webhook_applied::applied_at.eq(received_at),
            ))
            .execute(conn)?;
        Ok((answer, outcome, request_id, token))
    });
    match outcome {
        Ok((answer, outcome, request_id, token)) => {
            processed.answer = answer;
            processed.outcome = outcome;
            processed.request_id = request_id;
            processed.approved_token = token;
        }
        Err(ApplyFailure::Rejected(answer, request_id)) => {
            processed.answer = answer;
            processed.request_id = request_id;
        }
        Err(ApplyFailure::Internal(message)) => {
            tracing::error!(error = %message, "webhook DataPass : erreur interne");
            processed.answer = Answer::error(500, "internal_error", "erreur interne, réessayez");
        }
        Err(ApplyFailure::Database(e)) => {
            // A concurrent identical delivery won the unique key: answer as it did.
            if let diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) = e
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

/// Why a payload was not applied (the transaction is rolled back).
enum ApplyFailure {
    Rejected(Answer, Option<String>),
    Database(diesel::result::Error),
    Internal(String),
}

impl From<diesel::result::Error> for ApplyFailure {
    fn from(e: diesel::result::Error) -> Self {
        ApplyFailure::Database(e)
    }
}

impl From<InstructionError> for ApplyFailure {
    fn from(e: InstructionError) -> Self {
        match e {
            InstructionError::Database(e) => ApplyFailure::Database(e),
            other => {
                ApplyFailure::Rejected(Answer::error(422, other.code(), &other.to_string()), None)
            }
        }
    }
}

type ApplyResult = (Answer, Outcome, Option<String>, Option<String>);

fn apply_payload(
    conn: &mut DbConnection,
    payload: &Payload,
    event: RequestEvent,
    fired_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<ApplyResult, ApplyFailure> {
    let data = &payload.data;
    let siret = Siret::parse(&data.organization.siret).map_err(|e| {
        ApplyFailure::Rejected(
            Answer::error(422, "invalid_siret", &format!("SIRET invalide : {e}")),
            None,
        )
    })?;
    let existing: Option<HabilitationRequest> = habilitation_requests::table
        .filter(habilitation_requests::datapass_id.eq(payload.model_id))
        .select(HabilitationRequest::as_select())
        .first(conn)
        .optional()?;

    if let Some(request) = &existing
        && request.last_event_at.is_some_and(|last| fired_at < last)
    {
        // Older than what is known: never move the request back in time.
        events::record(
            conn,
            now,
            "datapass",
            "webhook.stale",
            ("request", &request.id),
            Some(format!(
                "événement {} du {fired_at} ignoré (plus ancien)",
                payload.event
            )),
        )?;
        return Ok((
            Answer::ok(json!({"status": "ignored", "reason": "stale_event"})),
            Outcome::Ignored,
            Some(request.id.clone()),
            None,
        ));
    }

    let collectivite_id = upsert_collectivite(conn, &siret, &data.organization, now)?;
    let form_uid = data
        .form_uid
        .clone()
        .unwrap_or_else(|| crate::demo::GENERIC_FORM_UID.to_owned());
    let editeur_id: Option<String> = editeur_forms::table
        .filter(editeur_forms::form_uid.eq(&form_uid))
        .select(editeur_forms::editeur_id)
        .first(conn)
        .optional()?;

    let request_id = match (&existing, event) {
        (None, RequestEvent::Create) => {
            let id = new_id();
            diesel::insert_into(habilitation_requests::table)
                .values(HabilitationRequest {
                    id: id.clone(),
                    datapass_id: Some(payload.model_id),
                    collectivite_id: collectivite_id.clone(),
                    form_uid: form_uid.clone(),
                    editeur_id: editeur_id.clone(),
                    state: "draft".into(),
                    reopening: false,
                    scopes: scopes(&data.data),
                    purpose: text(&data.data, "cadre_juridique_nature"),
                    deliberation_url: text(&data.data, "cadre_juridique_url"),
                    last_reason: None,
                    created_at: fired_at,
                    last_submitted_at: None,
                    last_validated_at: None,
                    last_event_at: Some(fired_at),
                    updated_at: now,
                })
                .execute(conn)?;
            events::record(
                conn,
                fired_at,
                "datapass",
                "request.create",
                ("request", &id),
                Some(format!("D{} reçue de DataPass", payload.model_id)),
            )?;
            id
        }
        (Some(_), RequestEvent::Create) => {
            return Err(ApplyFailure::Rejected(
                Answer::error(422, "already_exists", "la demande existe déjà"),
                existing.as_ref().map(|r| r.id.clone()),
            ));
        }
        (None, _) => {
            return Err(ApplyFailure::Rejected(
                Answer::error(
                    422,
                    "unknown_request",
                    "demande inconnue : l'événement create n'a pas encore été reçu",
                ),
                None,
            ));
        }
        (Some(request), _) => {
            diesel::update(habilitation_requests::table.find(&request.id))
                .set((
                    habilitation_requests::collectivite_id.eq(&collectivite_id),
                    habilitation_requests::form_uid.eq(&form_uid),
                    habilitation_requests::editeur_id.eq(&editeur_id),
                    habilitation_requests::scopes.eq(scopes(&data.data)),
                    habilitation_requests::purpose.eq(text(&data.data, "cadre_juridique_nature")),
                    habilitation_requests::deliberation_url
                        .eq(text(&data.data, "cadre_juridique_url")),
                    habilitation_requests::updated_at.eq(now),
                ))
                .execute(conn)?;
            request.id.clone()
        }
    };
    replace_contacts(conn, &request_id, data)?;
    crate::provisioning::record_payload_facts(
        conn,
        &request_id,
        &data.data,
        data.service_provider.as_ref(),
        now,
    )?;

    let mut token = None;
    if event != RequestEvent::Create {
        let reason = text(&data.data, "reason").or_else(|| {
            event
                .requires_reason()
                .then(|| "Motif communiqué par DataPass au demandeur.".to_owned())
        });
        let actor = Actor {
            name: "datapass",
            at: fired_at,
        };
        let applied =
            apply_event(conn, &request_id, event, reason.as_deref(), &actor).map_err(|e| {
                match ApplyFailure::from(e) {
                    ApplyFailure::Rejected(answer, _) => {
                        ApplyFailure::Rejected(answer, Some(request_id.clone()))
                    }
                    other => other,
                }
            })?;
        token = applied.token_id;
    }
    let answer = match &token {
        Some(id) => Answer::ok(json!({"token_id": id})),
        None => Answer::ok(json!({"status": "ok"})),
    };
    Ok((answer, Outcome::Applied, Some(request_id), token))
}

fn upsert_collectivite(
    conn: &mut DbConnection,
    siret: &Siret,
    organization: &Organization,
    now: NaiveDateTime,
) -> QueryResult<String> {
    let existing: Option<String> = collectivites::table
        .filter(collectivites::siret.eq(siret.as_str()))
        .select(collectivites::id)
        .first(conn)
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let cog = insee_field(
        organization.insee_payload.as_ref(),
        "codeCommuneEtablissement",
    );
    let id = new_id();
    diesel::insert_into(collectivites::table)
        .values(Collectivite {
            id: id.clone(),
            siret: siret.as_str().to_owned(),
            name: organization
                .name
                .clone()
                .unwrap_or_else(|| format!("Collectivité {}", siret.as_str())),
            kind: "commune".into(),
            departement: cog.as_ref().map(|c| {
                if c.starts_with("97") {
                    c.chars().take(3).collect()
                } else {
                    c.chars().take(2).collect()
                }
            }),
            cog,
            postal_code: insee_field(
                organization.insee_payload.as_ref(),
                "codePostalEtablissement",
            ),
            active: true,
            had_hubee_account: false,
            created_at: now,
            updated_at: now,
        })
        .execute(conn)?;
    Ok(id)
}

fn replace_contacts(
    conn: &mut DbConnection,
    request_id: &str,
    data: &RequestData,
) -> QueryResult<()> {
    let mut contacts = vec![RequestContact {
        id: new_id(),
        request_id: request_id.to_owned(),
        role: roles::DEMANDEUR.to_owned(),
        email: crate::mail::normalize_address(&data.applicant.email),
        given_name: data.applicant.given_name.clone(),
        family_name: data.applicant.family_name.clone(),
        phone_number: data.applicant.phone_number.clone(),
        job_title: data.applicant.job_title.clone(),
    }];
    for role in [
        roles::CONTACT_METIER,
        roles::CONTACT_TECHNIQUE,
        roles::DPD,
        roles::RESPONSABLE_TRAITEMENT,
    ] {
        if let Some(email) = text(&data.data, &format!("{role}_email")) {
            contacts.push(RequestContact {
                id: new_id(),
                request_id: request_id.to_owned(),
                role: role.to_owned(),
                email: crate::mail::normalize_address(&email),
                given_name: text(&data.data, &format!("{role}_given_name")),
                family_name: text(&data.data, &format!("{role}_family_name")),
                phone_number: text(&data.data, &format!("{role}_phone_number")),
                job_title: text(&data.data, &format!("{role}_job_title")),
            });
        }
    }
    diesel::delete(request_contacts::table.filter(request_contacts::request_id.eq(request_id)))
        .execute(conn)?;
    // One row at a time: batch inserts are not portable through the multi-backend connection.
    for contact in &contacts {
        diesel::insert_into(request_contacts::table)
            .values(contact)
            .execute(conn)?;
    }
    Ok(())
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
