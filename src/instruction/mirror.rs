//! The mirror of DataPass. DataPass holds the requests and the decisions; this module records
//! what DataPass says of one request — from a webhook event or from the pull API — with
//! DataPass's state winning, applies the side effects of reaching that state (token issued or
//! prolonged, habilitation revoked), and keeps the differences between what the back office
//! expected and what DataPass says, for staff to see. Webhook and reconciliation share it, so
//! both lead to the same result.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDateTime, SubsecRound};
use diesel::prelude::*;
use serde_json::Value;

use super::datapass::{Organization, RequestData};
use super::{TokenAction, issue_or_prolong, revoke_side_effects};
use crate::db::DbConnection;
use crate::db::new_id;
use crate::db::schema::{
    datapass_differences, datapass_mirror, editeur_forms, habilitation_requests, habilitations,
    request_contacts,
};
use crate::domain::request_state::{
    RequestEvent, RequestState, RequestStatus, apply, habilitation,
};
use crate::domain::siret::Siret;
use crate::models::events;
use crate::models::requests::{HabilitationRequest, RequestContact, roles};

/// Where what DataPass says comes from.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    /// A webhook delivery: the event and when it happened on DataPass.
    Webhook {
        event: RequestEvent,
        fired_at: NaiveDateTime,
    },
    /// The pull API, read at `read_at`.
    Sync { read_at: NaiveDateTime },
}

impl Source {
    fn code(self) -> &'static str {
        match self {
            Source::Webhook { .. } => "webhook",
            Source::Sync { .. } => "sync",
        }
    }

    fn actor(self) -> &'static str {
        match self {
            Source::Webhook { .. } => "datapass",
            Source::Sync { .. } => "datapass-sync",
        }
    }
}

/// Why a description of a request cannot be recorded.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// The organisation's SIRET is not a SIRET: nothing is stored.
    #[error("SIRET invalide : {0}")]
    InvalidSiret(String),
    /// A state DataPass does not have (yet): nothing is stored.
    #[error("état DataPass inconnu : « {0} »")]
    UnknownState(String),
    /// A contact address that is not exactly one mailbox (a list would add recipients).
    #[error("{0}")]
    InvalidEmail(String),
    #[error("erreur de base de données")]
    Database(#[from] diesel::result::Error),
}

impl MirrorError {
    /// A stable code for answers and logs.
    pub fn code(&self) -> &'static str {
        match self {
            MirrorError::InvalidSiret(_) => "invalid_siret",
            MirrorError::UnknownState(_) => "unknown_state",
            MirrorError::InvalidEmail(_) => "invalid_email",
            MirrorError::Database(_) => "database_error",
        }
    }
}

/// What recording one description did.
#[derive(Clone, Debug, Default)]
pub struct Mirrored {
    pub request_id: String,
    /// The request was not known before.
    pub created: bool,
    /// Something stored changed (fields, contacts, state, token).
    pub changed: bool,
    /// Older than what is already known: nothing was applied.
    pub stale: bool,
    /// The state after recording.
    pub status: Option<RequestStatus>,
    /// The request's token and what was done to it, when it is validated.
    pub token: Option<(String, TokenAction)>,
    /// When DataPass validated it (for the approval e-mail's freshness).
    pub validated_at: Option<NaiveDateTime>,
    /// Differences recorded.
    pub differences: usize,
}

/// A difference between what the back office expected and what DataPass says.
struct Difference {
    kind: &'static str,
    local: Option<String>,
    datapass: Option<String>,
    resolution: String,
}

fn label(status: RequestStatus) -> String {
    if status.reopening {
        format!("{} (modification)", status.state.label_fr())
    } else {
        status.state.label_fr().to_owned()
    }
}

/// Parses a DataPass timestamp (RFC 3339), leniently: anything else is no date.
/// Truncated to the second, the precision of the webhook's `fired_at`, so that the same event
/// seen by the reconciliation and by the webhook compares equal.
pub fn parse_time(value: Option<&str>) -> Option<NaiveDateTime> {
    let value = value?.trim();
    DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|d| d.naive_utc().trunc_subsecs(0))
}

/// A non-empty form field as text.
pub fn text(data: &HashMap<String, Value>, key: &str) -> Option<String> {
    match data.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The scopes, comma-separated, whether DataPass sends a list or a string.
pub fn scopes(data: &HashMap<String, Value>) -> String {
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

/// The request's newest event on DataPass (pull API only): name and time.
pub fn newest_event(data: &RequestData) -> Option<(String, NaiveDateTime)> {
    data.events
        .iter()
        .filter_map(|e| {
            let at = parse_time(e.get("created_at").and_then(Value::as_str))?;
            let name = e
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("événement")
                .to_owned();
            Some((name, at))
        })
        .max_by_key(|(_, at)| *at)
}

/// Records what DataPass says of request `datapass_id`, inside the caller's transaction.
pub fn mirror(
    conn: &mut DbConnection,
    datapass_id: i64,
    data: &RequestData,
    source: Source,
    now: NaiveDateTime,
) -> Result<Mirrored, MirrorError> {
    let siret = Siret::parse(&data.organization.siret)
        .map_err(|e| MirrorError::InvalidSiret(e.to_string()))?;
    check_contact_addresses(data)?;
    let datapass_state = match data.state.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => Some(
            s.parse::<RequestState>()
                .map_err(|_| MirrorError::UnknownState(s.to_owned()))?,
        ),
        _ => None,
    };
    // Takes the row lock first on PostgreSQL: a webhook and a reconciliation of the same
    // request run one after the other, the second seeing what the first wrote. SQLite's write
    // transactions already hold the database lock (`db::transaction`), and a no-op UPDATE
    // there would still rewrite the page into the WAL on every event and every synced row.
    if matches!(conn, DbConnection::Postgresql(_)) {
        crate::db::cached::update(
            habilitation_requests::table,
            habilitation_requests::datapass_id.eq(datapass_id),
            habilitation_requests::updated_at.eq(habilitation_requests::updated_at),
        )
        .execute(conn)?;
    }
    let existing: Option<HabilitationRequest> = habilitation_requests::table
        .filter(habilitation_requests::datapass_id.eq(datapass_id))
        .select(HabilitationRequest::as_select())
        .first(conn)
        .optional()?;

    let (event, event_name, event_at) = match source {
        Source::Webhook { event, fired_at } => {
            (Some(event), Some(event.as_str().to_owned()), Some(fired_at))
        }
        Source::Sync { .. } => match newest_event(data) {
            Some((name, at)) => (None, Some(name), Some(at)),
            None => (None, None, None),
        },
    };
    if let (Some(request), Some(at)) = (&existing, event_at)
        && request.last_event_at.is_some_and(|last| at < last)
    {
        if let Source::Webhook { event, .. } = source {
            events::record(
                conn,
                now,
                "datapass",
                "webhook.stale",
                ("request", &request.id),
                Some(format!(
                    "événement {} du {at} ignoré (plus ancien)",
                    event.as_str()
                )),
            )?;
        }
        return Ok(Mirrored {
            request_id: request.id.clone(),
            stale: true,
            status: super::status_of(request).ok(),
            ..Mirrored::default()
        });
    }

    let current: Option<RequestStatus> = existing.as_ref().and_then(|r| super::status_of(r).ok());
    // What the rules would have given: a consistency check, never a refusal.
    let expected = event.map(|event| apply(current, event, Some("motif DataPass")));
    let expected_ok = expected.as_ref().and_then(|r| r.as_ref().ok()).copied();
    let target_state = datapass_state
        .or(expected_ok.map(|s| s.state))
        .or(current.map(|s| s.state))
        .unwrap_or(RequestState::Draft);
    let in_progress = matches!(
        target_state,
        RequestState::Draft | RequestState::Submitted | RequestState::ChangesRequested
    );
    let payload_has_active_habilitation = data
        .authorizations
        .iter()
        .any(|h| h.get("state").and_then(Value::as_str) == Some(habilitation::ACTIVE));
    let reopening = in_progress
        && data.reopening.unwrap_or_else(|| match expected_ok {
            Some(s) if s.state == target_state => s.reopening,
            _ => current.is_some_and(|c| c.reopening) || payload_has_active_habilitation,
        });
    let target = RequestStatus::new(target_state, reopening);

    let mut differences = Vec::new();
    match (source, &expected) {
        (Source::Webhook { event, .. }, Some(Err(_))) if current.is_none() => {
            differences.push(Difference {
                kind: "missing",
                local: None,
                datapass: Some(label(target)),
                resolution: format!(
                    "demande inconnue du back-office : enregistrée depuis l'événement « {} »",
                    event.as_str()
                ),
            });
        }
        (Source::Webhook { event, .. }, Some(Err(e))) => differences.push(Difference {
            kind: "transition",
            local: current.map(label),
            datapass: Some(label(target)),
            resolution: format!(
                "événement « {} » non prévu par les règles ({e}) : appliqué tel que DataPass l'indique",
                event.as_str()
            ),
        }),
        (Source::Webhook { .. }, Some(Ok(expected))) if *expected != target => {
            differences.push(Difference {
                kind: "state",
                local: Some(label(*expected)),
                datapass: Some(label(target)),
                resolution: "état indiqué par DataPass appliqué".into(),
            });
        }
        (Source::Sync { .. }, _) if current.is_none() => differences.push(Difference {
            kind: "missing",
            local: None,
            datapass: Some(label(target)),
            resolution: "demande absente du back-office : créée depuis l'API DataPass".into(),
        }),
        (Source::Sync { .. }, _) if current != Some(target) => differences.push(Difference {
            kind: "state",
            local: current.map(label),
            datapass: Some(label(target)),
            resolution: "aligné sur l'état de DataPass".into(),
        }),
        _ => {}
    }

    let collectivite_id = upsert_collectivite(conn, &siret, &data.organization, now)?;
    let form_uid = data
        .form_uid
        .clone()
        .filter(|f| !f.trim().is_empty())
        .unwrap_or_else(|| crate::domain::form_url::GENERIC_FORM_UID.to_owned());
    let editeur_id: Option<String> = editeur_forms::table
        .filter(editeur_forms::form_uid.eq(&form_uid))
        .select(editeur_forms::editeur_id)
        .first(conn)
        .optional()?;
    let fields = &data.data;
    let scopes = scopes(fields);
    let purpose = text(fields, "cadre_juridique_nature");
    let deliberation_url = text(fields, "cadre_juridique_url");
    let at = event_at.unwrap_or(now);
    let last_submitted_at = parse_time(data.last_submitted_at.as_deref())
        .or((event == Some(RequestEvent::Submit)).then_some(at))
        .or(existing.as_ref().and_then(|r| r.last_submitted_at));
    let last_validated_at = parse_time(data.last_validated_at.as_deref())
        .or((event == Some(RequestEvent::Approve)).then_some(at))
        .or(existing.as_ref().and_then(|r| r.last_validated_at));
    let last_event_at = match (existing.as_ref().and_then(|r| r.last_event_at), event_at) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };

    let mut changed = false;
    let (request, created) = match &existing {
        None => {
            let request = HabilitationRequest {
                id: new_id(),
                datapass_id: Some(datapass_id),
                collectivite_id: collectivite_id.clone(),
                form_uid: form_uid.clone(),
                editeur_id: editeur_id.clone(),
                state: target.state,
                reopening: target.reopening,
                scopes: scopes.clone(),
                purpose: purpose.clone(),
                deliberation_url: deliberation_url.clone(),
                last_reason: None,
                created_at: parse_time(data.created_at.as_deref()).unwrap_or(at),
                last_submitted_at,
                last_validated_at,
                last_event_at,
                updated_at: now,
            };
            diesel::insert_into(habilitation_requests::table)
                .values(&request)
                .execute(conn)?;
            changed = true;
            (request, true)
        }
        Some(old) => {
            let differs = old.collectivite_id != collectivite_id
                || old.form_uid != form_uid
                || old.editeur_id != editeur_id
                || old.scopes != scopes
                || old.purpose != purpose
                || old.deliberation_url != deliberation_url
                || old.state != target.state
                || old.reopening != target.reopening
                || old.last_submitted_at != last_submitted_at
                || old.last_validated_at != last_validated_at
                || old.last_event_at != last_event_at;
            if differs {
                crate::db::cached::update(
                    habilitation_requests::table,
                    habilitation_requests::id.eq(&old.id),
                    (
                        habilitation_requests::collectivite_id.eq(&collectivite_id),
                        habilitation_requests::form_uid.eq(&form_uid),
                        habilitation_requests::editeur_id.eq(&editeur_id),
                        habilitation_requests::scopes.eq(&scopes),
                        habilitation_requests::purpose.eq(&purpose),
                        habilitation_requests::deliberation_url.eq(&deliberation_url),
                        habilitation_requests::state.eq(target.state.as_str()),
                        habilitation_requests::reopening.eq(target.reopening),
                        habilitation_requests::last_submitted_at.eq(last_submitted_at),
                        habilitation_requests::last_validated_at.eq(last_validated_at),
                        habilitation_requests::last_event_at.eq(last_event_at),
                        habilitation_requests::updated_at.eq(now),
                    ),
                )
                .execute(conn)?;
                changed = true;
            }
            let mut request = old.clone();
            request.collectivite_id = collectivite_id.clone();
            request.editeur_id = editeur_id.clone();
            request.scopes = scopes.clone();
            request.state = target.state;
            request.reopening = target.reopening;
            (request, false)
        }
    };
    changed |= sync_contacts(conn, &request.id, data)?;
    crate::provisioning::record_payload_facts(
        conn,
        &request.id,
        &data.data,
        data.service_provider.as_ref(),
        now,
    )?;

    // Side effects of the state reached.
    let validated = target == RequestStatus::new(RequestState::Validated, false);
    let was_validated = current == Some(RequestStatus::new(RequestState::Validated, false));
    let mut token = None;
    if validated {
        let has_habilitation: bool = diesel::select(diesel::dsl::exists(
            habilitations::table.filter(habilitations::request_id.eq(&request.id)),
        ))
        .get_result(conn)?;
        let newer_validation = match (
            existing.as_ref().and_then(|r| r.last_validated_at),
            last_validated_at,
        ) {
            (Some(old), Some(new)) => new > old,
            _ => false,
        };
        let approval = event == Some(RequestEvent::Approve)
            || !was_validated
            || !has_habilitation
            || newer_validation;
        if approval {
            let validated_at = last_validated_at.unwrap_or(at);
            let (token_id, action) = issue_or_prolong(conn, &request, validated_at)?;
            if action != TokenAction::Kept {
                changed = true;
            }
            if action == TokenAction::Kept && !was_validated {
                // DataPass validated again (a modification) a token already valid long enough.
                changed = true;
            }
            token = Some((token_id, action));
        }
    }
    if validated && let Some((datapass_habilitation, slug)) = active_habilitation(data) {
        changed |= align_habilitation(conn, &request.id, datapass_habilitation, slug)?;
    }
    if target.state == RequestState::Revoked
        && current.map(|c| c.state) != Some(RequestState::Revoked)
    {
        revoke_side_effects(conn, &request, None, at)?;
        changed = true;
    }

    // The mirror row: DataPass's state, its last event, the last reconciliation.
    let mirror_row: Option<(String, Option<NaiveDateTime>)> = datapass_mirror::table
        .find(&request.id)
        .select((
            datapass_mirror::datapass_state,
            datapass_mirror::modification_expected_at,
        ))
        .first(conn)
        .optional()?;
    let synced_at = match source {
        Source::Sync { read_at } => Some(read_at),
        Source::Webhook { .. } => None,
    };
    // A modification announced by the demandeur is no longer awaited once DataPass reopened
    // the request or validated it again.
    let clear_intent =
        target.reopening || token.as_ref().is_some_and(|(_, a)| *a != TokenAction::Kept);
    match mirror_row {
        None => {
            diesel::insert_into(datapass_mirror::table)
                .values((
                    datapass_mirror::request_id.eq(&request.id),
                    datapass_mirror::datapass_state.eq(target.state.as_str()),
                    datapass_mirror::last_event.eq(&event_name),
                    datapass_mirror::last_event_at.eq(event_at),
                    datapass_mirror::last_synced_at.eq(synced_at),
                    datapass_mirror::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        Some((stored_state, intent)) => {
            let state_changed = stored_state != target.state.as_str();
            if changed || state_changed || (event_name.is_some() && source_is_webhook(source)) {
                crate::db::cached::update(
                    datapass_mirror::table,
                    datapass_mirror::request_id.eq(&request.id),
                    (
                        datapass_mirror::datapass_state.eq(target.state.as_str()),
                        datapass_mirror::last_event.eq(&event_name),
                        datapass_mirror::last_event_at.eq(event_at),
                        datapass_mirror::updated_at.eq(now),
                    ),
                )
                .execute(conn)?;
            }
            if intent.is_some() && clear_intent {
                crate::db::cached::update(
                    datapass_mirror::table,
                    datapass_mirror::request_id.eq(&request.id),
                    (
                        datapass_mirror::modification_expected_at.eq(None::<NaiveDateTime>),
                        datapass_mirror::modification_expected_by.eq(None::<String>),
                    ),
                )
                .execute(conn)?;
            }
        }
    }

    for difference in &differences {
        diesel::insert_into(datapass_differences::table)
            .values((
                datapass_differences::id.eq(new_id()),
                datapass_differences::request_id.eq(Some(&request.id)),
                datapass_differences::datapass_id.eq(datapass_id),
                datapass_differences::source.eq(source.code()),
                datapass_differences::kind.eq(difference.kind),
                datapass_differences::local_value.eq(&difference.local),
                datapass_differences::datapass_value.eq(&difference.datapass),
                datapass_differences::resolution.eq(&difference.resolution),
                datapass_differences::detected_at.eq(now),
            ))
            .execute(conn)?;
    }

    if changed || !differences.is_empty() {
        let mut details = Vec::new();
        if created {
            details.push(format!("D{datapass_id} reçue de DataPass"));
        }
        match current {
            Some(from) if from != target => {
                details.push(format!("{} → {}", label(from), label(target)));
            }
            None => details.push(format!("état {}", label(target))),
            _ => {}
        }
        if let Some((id, action)) = &token {
            details.push(format!("jeton {} {id}", action.label_fr()));
        }
        for difference in &differences {
            details.push(format!("écart : {}", difference.resolution));
        }
        let action = match event {
            Some(event) => format!("request.{}", event.as_str()),
            None => "request.datapass_sync".to_owned(),
        };
        events::record(
            conn,
            at,
            source.actor(),
            &action,
            ("request", &request.id),
            Some(details.join(" ; ")),
        )?;
    }

    Ok(Mirrored {
        request_id: request.id,
        created,
        changed,
        stale: false,
        status: Some(target),
        token,
        validated_at: last_validated_at,
        differences: differences.len(),
    })
}

fn source_is_webhook(source: Source) -> bool {
    matches!(source, Source::Webhook { .. })
}

/// Whether an approval is recent enough for its e-mail to still be useful (reconciliation
/// does not e-mail about approvals that happened long ago).
pub fn approval_is_fresh(validated_at: Option<NaiveDateTime>, now: NaiveDateTime) -> bool {
    validated_at.is_some_and(|at| now - at <= Duration::days(7))
}

/// DataPass's habilitation in force for the request: its id and slug.
fn active_habilitation(data: &RequestData) -> Option<(i64, Option<String>)> {
    data.authorizations
        .iter()
        .filter(|h| h.get("state").and_then(Value::as_str) == Some(habilitation::ACTIVE))
        .filter_map(|h| {
            let id = match h.get("id")? {
                Value::Number(n) => n.as_i64()?,
                Value::String(s) => s.trim().parse().ok()?,
                _ => return None,
            };
            let slug = h.get("slug").and_then(Value::as_str).map(str::to_owned);
            Some((id, slug))
        })
        .max_by_key(|(id, _)| *id)
}

/// Gives the request's habilitation in force DataPass's id and slug; tells whether it changed.
fn align_habilitation(
    conn: &mut DbConnection,
    request_id: &str,
    datapass_habilitation: i64,
    slug: Option<String>,
) -> QueryResult<bool> {
    let ours: Option<(String, Option<i64>, Option<String>)> = habilitations::table
        .filter(habilitations::request_id.eq(request_id))
        .filter(habilitations::state.eq(habilitation::ACTIVE))
        .order(habilitations::validated_at.desc())
        .select((
            habilitations::id,
            habilitations::datapass_authorization_id,
            habilitations::slug,
        ))
        .first(conn)
        .optional()?;
    let Some((id, known_id, known_slug)) = ours else {
        return Ok(false);
    };
    let slug = slug.or(known_slug.clone());
    if known_id == Some(datapass_habilitation) && known_slug == slug {
        return Ok(false);
    }
    crate::db::cached::update(
        habilitations::table,
        habilitations::id.eq(&id),
        (
            habilitations::datapass_authorization_id.eq(Some(datapass_habilitation)),
            habilitations::slug.eq(slug),
        ),
    )
    .execute(conn)?;
    Ok(true)
}

/// The collectivité of a SIRET, created from the organisation when unknown.
pub fn upsert_collectivite(
    conn: &mut DbConnection,
    siret: &Siret,
    organization: &Organization,
    now: NaiveDateTime,
) -> QueryResult<String> {
    let payload = organization.insee_payload.as_ref();
    let new = crate::models::collectivites::NewCollectivite {
        siret: siret.as_str().to_owned(),
        name: organization
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| format!("Collectivité {}", siret.as_str())),
        cog: insee_field(payload, "codeCommuneEtablissement"),
        postal_code: insee_field(payload, "codePostalEtablissement"),
    };
    Ok(crate::models::collectivites::find_or_create(conn, new, now)?.0)
}

/// Every contact address DataPass gives must be exactly one mailbox, or nothing is stored.
fn check_contact_addresses(data: &RequestData) -> Result<(), MirrorError> {
    let mut addresses = vec![("applicant.email".to_owned(), data.applicant.email.clone())];
    for role in [
        roles::CONTACT_METIER,
        roles::CONTACT_TECHNIQUE,
        roles::DPD,
        roles::RESPONSABLE_TRAITEMENT,
    ] {
        if let Some(email) = text(&data.data, &format!("{role}_email")) {
            addresses.push((format!("{role}_email"), email));
        }
    }
    for (field, address) in addresses {
        // The message names the field, not the address: it is kept with the delivery log,
        // whose bodies the retention job clears but whose messages it keeps.
        crate::domain::email::EmailAddress::parse(&address).map_err(|_| {
            MirrorError::InvalidEmail(format!(
                "{field} : ce n'est pas exactement une adresse e-mail"
            ))
        })?;
    }
    Ok(())
}

/// The contacts DataPass describes: the applicant as demandeur, then each role of the form.
fn contacts_of(request_id: &str, data: &RequestData) -> Vec<RequestContact> {
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
    contacts
}

type ContactKey = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn key_of(c: &RequestContact) -> ContactKey {
    (
        c.role.clone(),
        c.email.clone(),
        c.given_name.clone(),
        c.family_name.clone(),
        c.phone_number.clone(),
        c.job_title.clone(),
    )
}

/// Replaces the request's contacts with DataPass's when they differ; tells whether they did.
fn sync_contacts(
    conn: &mut DbConnection,
    request_id: &str,
    data: &RequestData,
) -> QueryResult<bool> {
    let wanted = contacts_of(request_id, data);
    let stored: Vec<RequestContact> = request_contacts::table
        .filter(request_contacts::request_id.eq(request_id))
        .select(RequestContact::as_select())
        .load(conn)?;
    let mut wanted_keys: Vec<ContactKey> = wanted.iter().map(key_of).collect();
    let mut stored_keys: Vec<ContactKey> = stored.iter().map(key_of).collect();
    wanted_keys.sort();
    stored_keys.sort();
    if wanted_keys == stored_keys {
        return Ok(false);
    }
    diesel::delete(request_contacts::table.filter(request_contacts::request_id.eq(request_id)))
        .execute(conn)?;
    insert_contacts(conn, &wanted)?;
    Ok(true)
}

/// Inserts `contacts` in one statement. On SQLite, each statement of a write transaction that
/// may need rolling back on its own first flushes the search index's pending documents into a
/// new segment (FTS5's savepoint): one row per statement wrote one segment per contact, and
/// as many merges. (Diesel's batch insert is not available through the multi-backend
/// connection, hence the SQL text.)
fn insert_contacts(conn: &mut DbConnection, contacts: &[RequestContact]) -> QueryResult<()> {
    if contacts.is_empty() {
        return Ok(());
    }
    let row = "(?, ?, ?, ?, ?, ?, ?, ?)";
    let sql = format!(
        "INSERT INTO request_contacts \
         (id, request_id, role, email, given_name, family_name, phone_number, job_title) VALUES {}",
        vec![row; contacts.len()].join(", ")
    );
    let values = contacts
        .iter()
        .flat_map(|c| {
            [
                Some(c.id.clone()),
                Some(c.request_id.clone()),
                Some(c.role.clone()),
                Some(c.email.clone()),
                c.given_name.clone(),
                c.family_name.clone(),
                c.phone_number.clone(),
                c.job_title.clone(),
            ]
        })
        .collect();
    // One text per number of contacts (a few roles), each kept by the connection.
    crate::db::cached::TextStatement::new(&sql, values).execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_read_leniently() {
        assert_eq!(
            parse_time(Some("2026-09-21T08:00:00Z")).map(|d| d.to_string()),
            Some("2026-09-21 08:00:00".into())
        );
        assert_eq!(
            parse_time(Some("2026-09-21T10:00:00.923+02:00")).map(|d| d.to_string()),
            Some("2026-09-21 08:00:00".into()),
            "to the second, like fired_at"
        );
        assert_eq!(parse_time(Some("hier")), None);
        assert_eq!(parse_time(None), None);
    }

    #[test]
    fn an_approval_is_fresh_for_a_week() {
        let now = parse_time(Some("2026-11-29T12:00:00Z")).unwrap();
        assert!(approval_is_fresh(Some(now - Duration::days(6)), now));
        assert!(!approval_is_fresh(Some(now - Duration::days(8)), now));
        assert!(!approval_is_fresh(None, now));
    }
}
