//! Instruction of habilitation requests: applying a lifecycle event (from a DataPass webhook
//! or a staff decision) to a request, and what follows an approval — the habilitation, the
//! token issued or prolonged, the HubEE subscription created `Inactif`.

pub mod datapass;
pub mod ingest;
pub mod mirror;
pub mod queue;
pub mod sync;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::new_id;
use crate::db::schema::{
    collectivites, editeurs, habilitation_requests, habilitations, hubee_subscriptions, tokens,
};
use crate::domain::hubee::SubscriptionStatus;
use crate::domain::request_state::{
    RequestEvent, RequestStatus, TransitionError, apply, habilitation,
};
use crate::models::events;
use crate::models::hubee::{HubeeSubscription, PROCESS_CODE};
use crate::models::requests::{Habilitation, HabilitationRequest, roles};
use crate::models::tokens::Token;

/// Why an event could not be applied; each has a stable machine code.
#[derive(Debug, thiserror::Error)]
pub enum InstructionError {
    /// The request is unknown.
    #[error("demande introuvable")]
    UnknownRequest,
    /// The lifecycle forbids it.
    #[error("{0}")]
    Transition(#[from] TransitionError),
    /// The stored state is not a known state.
    #[error("état enregistré inconnu : {0}")]
    CorruptState(String),
    /// The database failed.
    #[error("erreur de base de données")]
    Database(#[from] diesel::result::Error),
}

impl InstructionError {
    /// A stable code for JSON answers and logs.
    pub fn code(&self) -> &'static str {
        match self {
            InstructionError::UnknownRequest => "unknown_request",
            InstructionError::Transition(TransitionError::ReasonRequired(_)) => "reason_required",
            InstructionError::Transition(TransitionError::AlreadyExists) => "already_exists",
            InstructionError::Transition(_) => "invalid_transition",
            InstructionError::CorruptState(_) => "corrupt_state",
            InstructionError::Database(_) => "database_error",
        }
    }
}

/// The current lifecycle status of a stored request.
pub fn status_of(request: &HabilitationRequest) -> Result<RequestStatus, InstructionError> {
    Ok(RequestStatus::new(request.state, request.reopening))
}

/// Who applies an event, and when.
#[derive(Clone, Debug)]
pub struct Actor<'a> {
    /// An e-mail address, or `datapass`.
    pub name: &'a str,
    /// When the event happened (DataPass's `fired_at`, or now for staff).
    pub at: NaiveDateTime,
}

/// What applying an event did.
#[derive(Clone, Debug)]
pub struct Applied {
    pub from: RequestStatus,
    pub to: RequestStatus,
    /// On approval: the token issued or prolonged.
    pub token_id: Option<String>,
    /// On approval: whether the token was prolonged (a reopening) rather than issued.
    pub prolonged: bool,
}

/// Applies a lifecycle event to a stored request, inside the caller's transaction.
pub fn apply_event(
    conn: &mut DbConnection,
    request_id: &str,
    event: RequestEvent,
    reason: Option<&str>,
    actor: &Actor,
) -> Result<Applied, InstructionError> {
    let request: HabilitationRequest = habilitation_requests::table
        .find(request_id)
        .select(HabilitationRequest::as_select())
        .first(conn)
        .optional()?
        .ok_or(InstructionError::UnknownRequest)?;
    let from = status_of(&request)?;
    let to = apply(Some(from), event, reason)?;
    let at = actor.at;

    let mut token_id = None;
    let mut prolonged = false;
    if event == RequestEvent::Approve {
        let (id, action) = issue_or_prolong(conn, &request, at)?;
        token_id = Some(id);
        prolonged = action == TokenAction::Prolonged;
    }
    if event == RequestEvent::Revoke {
        revoke_side_effects(conn, &request, reason, at)?;
    }

    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    let keeps_reason = matches!(event, RequestEvent::Refuse | RequestEvent::RequestChanges);
    crate::db::cached::update(
        habilitation_requests::table,
        habilitation_requests::id.eq(request_id),
        (
            habilitation_requests::state.eq(to.state.as_str()),
            habilitation_requests::reopening.eq(to.reopening),
            habilitation_requests::last_event_at.eq(Some(at)),
            habilitation_requests::updated_at.eq(at),
        ),
    )
    .execute(conn)?;
    if keeps_reason {
        crate::db::cached::update(
            habilitation_requests::table,
            habilitation_requests::id.eq(request_id),
            habilitation_requests::last_reason.eq(reason),
        )
        .execute(conn)?;
    }
    if event == RequestEvent::Submit {
        crate::db::cached::update(
            habilitation_requests::table,
            habilitation_requests::id.eq(request_id),
            habilitation_requests::last_submitted_at.eq(Some(at)),
        )
        .execute(conn)?;
    }
    if event == RequestEvent::Approve {
        crate::db::cached::update(
            habilitation_requests::table,
            habilitation_requests::id.eq(request_id),
            habilitation_requests::last_validated_at.eq(Some(at)),
        )
        .execute(conn)?;
    }
    let mut details = Vec::new();
    if from != to {
        details.push(format!(
            "{}{} → {}{}",
            from.state.label_fr(),
            if from.reopening {
                " (modification)"
            } else {
                ""
            },
            to.state.label_fr(),
            if to.reopening { " (modification)" } else { "" }
        ));
    }
    if let Some(reason) = reason {
        details.push(format!("motif : {reason}"));
    }
    if let Some(id) = &token_id {
        details.push(format!(
            "jeton {} {id}",
            if prolonged { "prolongé" } else { "émis" }
        ));
    }
    events::record(
        conn,
        at,
        actor.name,
        &format!("request.{}", event.as_str()),
        ("request", request_id),
        (!details.is_empty()).then(|| details.join(" ; ")),
    )?;
    Ok(Applied {
        from,
        to,
        token_id,
        prolonged,
    })
}

/// The request's token in force (not revoked, of an active habilitation), if any.
pub fn live_token_of(conn: &mut DbConnection, request_id: &str) -> QueryResult<Option<String>> {
    habilitations::table
        .inner_join(tokens::table)
        .filter(habilitations::request_id.eq(request_id))
        .filter(habilitations::state.eq(habilitation::ACTIVE))
        .filter(tokens::revoked_at.is_null())
        .order(tokens::issued_at.desc())
        .select(tokens::id)
        .first(conn)
        .optional()
}

/// What an approval did to the request's token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenAction {
    /// A new habilitation and its token.
    Issued,
    /// The token in force, its expiry moved to 18 months after the validation.
    Prolonged,
    /// The token in force already runs that long (the same approval seen again).
    Kept,
}

impl TokenAction {
    /// For the event log.
    pub fn label_fr(self) -> &'static str {
        match self {
            TokenAction::Issued => "émis",
            TokenAction::Prolonged => "prolongé",
            TokenAction::Kept => "inchangé",
        }
    }
}

/// The token of an approval validated at `validated_at`: the request's token in force
/// prolonged to 18 months after that day (same id), or a new habilitation and token — and the
/// HubEE subscription `Inactif` when the collectivité has none. Idempotent.
pub(crate) fn issue_or_prolong(
    conn: &mut DbConnection,
    request: &HabilitationRequest,
    validated_at: NaiveDateTime,
) -> QueryResult<(String, TokenAction)> {
    let expires_on =
        crate::domain::token::expiry_date(crate::domain::calendar::paris_date(validated_at));
    let existing: Option<(Habilitation, Token)> = habilitations::table
        .inner_join(tokens::table)
        .filter(habilitations::request_id.eq(&request.id))
        .filter(habilitations::state.eq(habilitation::ACTIVE))
        .filter(tokens::revoked_at.is_null())
        .order(tokens::issued_at.desc())
        .select((Habilitation::as_select(), Token::as_select()))
        .first(conn)
        .optional()?;

    let outcome = match existing {
        Some((_, token)) if token.expires_on >= expires_on => (token.id, TokenAction::Kept),
        Some((habilitation, token)) => {
            crate::models::tokens::set_expiry(conn, &token.id, expires_on, validated_at)?;
            crate::db::cached::update(
                habilitations::table,
                habilitations::id.eq(&habilitation.id),
                habilitations::validated_at.eq(validated_at),
            )
            .execute(conn)?;
            events::record(
                conn,
                validated_at,
                "system",
                "token.prolong",
                ("token", &token.id),
                Some(format!("expiration {} → {expires_on}", token.expires_on)),
            )?;
            (token.id, TokenAction::Prolonged)
        }
        None => {
            let habilitation_id = new_id();
            diesel::insert_into(habilitations::table)
                .values(Habilitation {
                    id: habilitation_id.clone(),
                    request_id: request.id.clone(),
                    collectivite_id: request.collectivite_id.clone(),
                    datapass_authorization_id: None,
                    slug: request.datapass_id.map(|d| format!("{d}-formulaire-qf")),
                    state: habilitation::ACTIVE.into(),
                    validated_at,
                    revoked_at: None,
                    created_at: validated_at,
                })
                .execute(conn)?;
            let token_id = new_id();
            diesel::insert_into(tokens::table)
                .values(Token {
                    id: token_id.clone(),
                    habilitation_id,
                    collectivite_id: request.collectivite_id.clone(),
                    scopes: if request.scopes.is_empty() {
                        "quotient_familial".into()
                    } else {
                        request.scopes.clone()
                    },
                    issued_at: validated_at,
                    expires_on,
                    revoked_at: None,
                    revocation_reason: None,
                    created_at: validated_at,
                    updated_at: validated_at,
                    next_reminder_on: crate::domain::reminders::next_due_on(expires_on, None),
                })
                .execute(conn)?;
            events::record(
                conn,
                validated_at,
                "system",
                "token.issue",
                ("token", &token_id),
                Some(format!("expire le {expires_on}")),
            )?;
            (token_id, TokenAction::Issued)
        }
    };
    crate::provisioning::on_request_approved(conn, request, validated_at)?;
    Ok(outcome)
}

/// Creates the collectivité's `FormulaireQF` subscription, status `Inactif`, if it has none.
pub(crate) fn ensure_subscription(
    conn: &mut DbConnection,
    request: &HabilitationRequest,
    at: NaiveDateTime,
) -> QueryResult<()> {
    let existing: i64 = hubee_subscriptions::table
        .filter(hubee_subscriptions::collectivite_id.eq(&request.collectivite_id))
        .filter(hubee_subscriptions::process_code.eq(PROCESS_CODE))
        .count()
        .get_result(conn)?;
    if existing > 0 {
        return Ok(());
    }
    let demandeur = crate::models::requests::contacts(conn, &request.id)?
        .into_iter()
        .find(|c| c.role == roles::DEMANDEUR)
        .map(|c| c.email);
    let editeur_siret: Option<String> = match &request.editeur_id {
        Some(id) => editeurs::table
            .find(id)
            .select(editeurs::siret)
            .first(conn)
            .optional()?,
        None => None,
    };
    let id = new_id();
    diesel::insert_into(hubee_subscriptions::table)
        .values(HubeeSubscription {
            id: id.clone(),
            collectivite_id: request.collectivite_id.clone(),
            process_code: PROCESS_CODE.into(),
            hubee_id: None,
            status: SubscriptionStatus::Inactif,
            access_mode: if editeur_siret.is_some() {
                "API"
            } else {
                "PORTAIL"
            }
            .into(),
            notification_frequency: "Unitaire".into(),
            notification_email: demandeur.clone(),
            datapass_id: request.datapass_id,
            activation_date: None,
            end_date: None,
            local_admin_email: demandeur,
            delegation_editeur_siret: editeur_siret,
            created_at: at,
            updated_at: at,
        })
        .execute(conn)?;
    crate::hubee::request_provisioning(conn, &id, at)?;
    events::record(
        conn,
        at,
        "system",
        "hubee.create",
        ("collectivite", &request.collectivite_id),
        Some("abonnement FormulaireQF créé au statut Inactif".into()),
    )?;
    Ok(())
}

/// Revokes the request's habilitation and its token.
pub(crate) fn revoke_side_effects(
    conn: &mut DbConnection,
    request: &HabilitationRequest,
    reason: Option<&str>,
    at: NaiveDateTime,
) -> QueryResult<()> {
    let habilitation_ids: Vec<String> = habilitations::table
        .filter(habilitations::request_id.eq(&request.id))
        .filter(habilitations::state.eq(habilitation::ACTIVE))
        .select(habilitations::id)
        .load(conn)?;
    diesel::update(habilitations::table.filter(habilitations::id.eq_any(&habilitation_ids)))
        .set((
            habilitations::state.eq(habilitation::REVOKED),
            habilitations::revoked_at.eq(Some(at)),
        ))
        .execute(conn)?;
    diesel::update(
        tokens::table
            .filter(tokens::habilitation_id.eq_any(&habilitation_ids))
            .filter(tokens::revoked_at.is_null()),
    )
    .set((
        tokens::revoked_at.eq(Some(at)),
        tokens::revocation_reason.eq(Some(
            reason
                .unwrap_or("Habilitation révoquée sur DataPass")
                .to_owned(),
        )),
        tokens::updated_at.eq(at),
    ))
    .execute(conn)?;
    Ok(())
}

/// Everything the decision e-mails need about a request.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MailFacts {
    pub request_id: String,
    pub datapass_id: Option<i64>,
    pub collectivite_name: String,
    pub siret: String,
    pub had_hubee_account: bool,
    /// The éditeur whose software receives the dossiers, if any.
    pub editeur_name: Option<String>,
    pub demandeur: Option<String>,
    pub contact_technique: Option<String>,
    pub token_id: Option<String>,
    pub token_expires_on: Option<NaiveDate>,
}

/// Gathers the facts for the decision e-mails of a request.
pub fn mail_facts(
    conn: &mut DbConnection,
    request_id: &str,
    token_id: Option<&str>,
) -> QueryResult<MailFacts> {
    let request: HabilitationRequest = habilitation_requests::table
        .find(request_id)
        .select(HabilitationRequest::as_select())
        .first(conn)?;
    let (name, siret, had_hubee_account): (String, String, bool) = collectivites::table
        .find(&request.collectivite_id)
        .select((
            collectivites::name,
            collectivites::siret,
            collectivites::had_hubee_account,
        ))
        .first(conn)?;
    let editeur_name: Option<String> = match &request.editeur_id {
        Some(id) => editeurs::table
            .find(id)
            .select(editeurs::name)
            .first(conn)
            .optional()?,
        None => None,
    };
    let contacts = crate::models::requests::contacts(conn, request_id)?;
    let email_of = |role: &str| {
        contacts
            .iter()
            .find(|c| c.role == role)
            .map(|c| c.email.clone())
    };
    let token_expires_on = match token_id {
        Some(id) => tokens::table
            .find(id)
            .select(tokens::expires_on)
            .first(conn)
            .optional()?,
        None => None,
    };
    Ok(MailFacts {
        request_id: request.id.clone(),
        datapass_id: request.datapass_id,
        collectivite_name: name,
        siret,
        had_hubee_account,
        editeur_name,
        demandeur: email_of(roles::DEMANDEUR),
        contact_technique: email_of(roles::CONTACT_TECHNIQUE),
        token_id: token_id.map(str::to_owned),
        token_expires_on,
    })
}

/// The e-mail template following a decision, if that decision is e-mailed.
fn decision_template(event: RequestEvent) -> Option<&'static str> {
    match event {
        RequestEvent::Approve => Some("decision_approved"),
        RequestEvent::Refuse => Some("decision_refused"),
        RequestEvent::RequestChanges => Some("decision_changes_requested"),
        _ => None,
    }
}

/// Renders and queues the e-mail following a decision (approval, refusal, changes requested),
/// to the demandeur with the contact technique in copy. Call inside the decision's transaction.
pub fn queue_decision_email(
    conn: &mut DbConnection,
    state: &crate::state::AppState,
    event: RequestEvent,
    facts: &MailFacts,
    reason: Option<&str>,
    now: NaiveDateTime,
) -> Result<bool, crate::error::AppError> {
    if decision_template(event).is_none() || facts.demandeur.is_none() {
        return Ok(false);
    }
    if hold_decision_email(conn, state, event, facts, now)? {
        return Ok(true);
    }
    match render_decision_email(state, event, facts, reason)? {
        Some(email) => {
            crate::mail::outbox::enqueue(conn, &email, now)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Whether the approval e-mail is held until HubEE says whether the collectivité had an
/// account (recorded in the caller's transaction); then it is not queued now.
pub fn hold_decision_email(
    conn: &mut DbConnection,
    state: &crate::state::AppState,
    event: RequestEvent,
    facts: &MailFacts,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    if event != RequestEvent::Approve {
        return Ok(false);
    }
    crate::provisioning::hold_approval_mail(
        conn,
        state.hubee.is_some(),
        &facts.request_id,
        facts.token_id.as_deref(),
        now,
    )
}

/// Renders the e-mail following a decision (no database access): `None` when the decision is
/// not e-mailed or the request has no demandeur.
pub fn render_decision_email(
    state: &crate::state::AppState,
    event: RequestEvent,
    facts: &MailFacts,
    reason: Option<&str>,
) -> Result<Option<crate::mail::NewEmail>, crate::error::AppError> {
    let Some(template) = decision_template(event) else {
        return Ok(None);
    };
    let Some(demandeur) = facts.demandeur.clone() else {
        return Ok(None);
    };
    let cc: Vec<String> = facts
        .contact_technique
        .iter()
        .filter(|c| **c != demandeur)
        .cloned()
        .collect();
    let mut context = tera::Context::new();
    context.insert("facts", facts);
    context.insert("reason", &reason);
    context.insert(
        "form_url",
        &format!(
            "{}/collectivites/{}",
            state.settings.form_base_url.trim_end_matches('/'),
            facts.siret
        ),
    );
    context.insert(
        "kit_url",
        &format!(
            "{}/collectivites/{}/kit",
            state.settings.public_url, facts.siret
        ),
    );
    context.insert(
        "form_activation_automatic",
        &state.settings.form_api.key.is_some(),
    );
    context.insert("hubee_automatic", &state.hubee.is_some());
    context.insert(
        "request_url",
        &format!(
            "{}/demandes/{}",
            state.settings.public_url, facts.request_id
        ),
    );
    let mut email = state.render_email(template, vec![demandeur], cc, context)?;
    email.related = Some(("request".into(), facts.request_id.clone()));
    Ok(Some(email))
}
