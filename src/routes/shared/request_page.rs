//! The page of one habilitation request, shown by `GET /demandes/{id}` and again by a decision
//! that fails: for staff, everything plus the automatic checks, the deadline and the decision
//! forms; for its éditeur and contacts, what concerns them.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use diesel::prelude::*;

use crate::auth::PageCtx;
use crate::db::schema::{
    collectivites, datapass_differences, datapass_mirror, deliberation_files, editeur_forms,
    editeurs, hubee_subscriptions, tokens,
};
use crate::domain::checks::{Check, CheckInput, ContactFact, SireneFact, run_checks};
use crate::domain::request_state::{RequestEvent, RequestState, apply};
use crate::error::AppError;
use crate::models::collectivites::Collectivite;
use crate::models::datapass::{DifferenceRow, kind_label_fr};
use crate::models::hubee::HubeeSubscription;
use crate::models::reason_templates::list_templates;
use crate::models::requests::{self, HabilitationRequest, RequestContact, roles};
use crate::models::tokens::Token;
use crate::models::{access, events};
use crate::state::AppState;

#[derive(serde::Serialize)]
struct ContactView {
    role: &'static str,
    email: String,
    name: String,
    job_title: Option<String>,
    phone_number: Option<String>,
}

/// Everything the page shows, loaded in one go.
pub struct Loaded {
    request: HabilitationRequest,
    collectivite: Collectivite,
    editeur: Option<String>,
    editeur_for_form: Option<String>,
    token: Option<Token>,
    hubee: Option<HubeeSubscription>,
    contacts: Vec<RequestContact>,
    file: Option<(String, i64)>,
    timeline: Vec<events::Event>,
    form_state: crate::provisioning::FormState,
    /// The approval e-mail waits for HubEE's answer on the organization.
    approval_mail_held: bool,
    mirror: Option<MirrorView>,
    differences: Vec<DifferenceRow>,
}

/// What the back office knows of the request on DataPass.
#[derive(Clone, Debug, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = datapass_mirror)]
struct MirrorView {
    datapass_state: String,
    last_event: Option<String>,
    last_event_at: Option<chrono::NaiveDateTime>,
    last_synced_at: Option<chrono::NaiveDateTime>,
    modification_expected_at: Option<chrono::NaiveDateTime>,
    modification_expected_by: Option<String>,
}

/// Loads the request page's data; 404 for anyone who may not see the request.
pub async fn load(state: &AppState, page: &PageCtx, id: &str) -> Result<Loaded, AppError> {
    let user = page.user()?.clone();
    let id = id.to_owned();
    let with_timeline = user.is_staff;
    let form_api = state.form.can_activate();
    state
        .db(move |conn| {
            let request = requests::find(conn, &id)?.ok_or(AppError::NotFound)?;
            if !access::request_visible(conn, &user, &request.id, request.editeur_id.as_deref())? {
                return Err(AppError::NotFound);
            }
            let collectivite: Collectivite = collectivites::table
                .find(&request.collectivite_id)
                .select(Collectivite::as_select())
                .first(conn)?;
            let editeur: Option<String> = match &request.editeur_id {
                Some(eid) => editeurs::table
                    .find(eid)
                    .select(editeurs::name)
                    .first(conn)
                    .optional()?,
                None => None,
            };
            let editeur_for_form: Option<String> = editeur_forms::table
                .inner_join(editeurs::table)
                .filter(editeur_forms::form_uid.eq(&request.form_uid))
                .select(editeurs::name)
                .first(conn)
                .optional()?;
            let token: Option<Token> = tokens::table
                .filter(tokens::collectivite_id.eq(&request.collectivite_id))
                .order(tokens::issued_at.desc())
                .select(Token::as_select())
                .first(conn)
                .optional()?;
            let hubee: Option<HubeeSubscription> = hubee_subscriptions::table
                .filter(hubee_subscriptions::collectivite_id.eq(&request.collectivite_id))
                .select(HubeeSubscription::as_select())
                .first(conn)
                .optional()?;
            let contacts = requests::contacts(conn, &request.id)?;
            let file: Option<(String, i64)> = deliberation_files::table
                .find(&request.id)
                .select((
                    deliberation_files::file_name,
                    deliberation_files::size_bytes,
                ))
                .first(conn)
                .optional()?;
            let timeline = if with_timeline {
                events::for_target(conn, "request", &request.id)?
            } else {
                Vec::new()
            };
            let form_state =
                crate::provisioning::form_state(conn, &request.collectivite_id, form_api)?;
            let approval_mail_held = crate::provisioning::approval_mail_held(conn, &request.id)?;
            let mirror: Option<MirrorView> = datapass_mirror::table
                .find(&request.id)
                .select(MirrorView::as_select())
                .first(conn)
                .optional()?;
            let differences = if with_timeline {
                datapass_differences::table
                    .filter(datapass_differences::request_id.eq(&request.id))
                    .order(datapass_differences::detected_at.desc())
                    .limit(10)
                    .select(DifferenceRow::as_select())
                    .load(conn)?
            } else {
                Vec::new()
            };
            Ok(Loaded {
                approval_mail_held,
                form_state,
                request,
                collectivite,
                editeur,
                editeur_for_form,
                token,
                hubee,
                contacts,
                file,
                timeline,
                mirror,
                differences,
            })
        })
        .await
}

/// The automatic checks of a loaded request (one Sirene lookup).
pub async fn checks_of(state: &AppState, loaded: &Loaded) -> Vec<Check> {
    let lookup = state.sirene.lookup(&loaded.collectivite.siret).await;
    let facts: Vec<ContactFact> = loaded
        .contacts
        .iter()
        .map(|c| ContactFact {
            role: &c.role,
            email: &c.email,
            given_name: c.given_name.as_deref(),
            family_name: c.family_name.as_deref(),
            job_title: c.job_title.as_deref(),
        })
        .collect();
    run_checks(&CheckInput {
        siret: &loaded.collectivite.siret,
        sirene: SireneFact::from(&lookup),
        deliberation_url: loaded.request.deliberation_url.as_deref(),
        has_deliberation_file: loaded.file.is_some(),
        contacts: &facts,
        form_uid: &loaded.request.form_uid,
        generic_form_uid: crate::domain::form_url::GENERIC_FORM_UID,
        editeur_for_form: loaded.editeur_for_form.as_deref(),
    })
}

/// Renders the request page, with an error message above the decision forms if any.
pub async fn render_show(
    state: &AppState,
    page: &PageCtx,
    id: &str,
    status: StatusCode,
    error: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let loaded = load(state, page, id).await?;
    render(state, page, loaded, None, status, error).await
}

/// Renders a loaded request page; `checks` when the caller already ran them (else they are
/// run here for staff).
pub async fn render(
    state: &AppState,
    page: &PageCtx,
    loaded: Loaded,
    checks: Option<Vec<Check>>,
    status: StatusCode,
    error: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let user = page.user()?.clone();
    let today = crate::domain::calendar::paris_date(page.now);
    let mut context = page.context();

    if user.is_staff {
        let checks = match checks {
            Some(checks) => checks,
            None => checks_of(state, &loaded).await,
        };
        let templates = state.db(|conn| Ok(list_templates(conn)?)).await?;
        let current = crate::instruction::status_of(&loaded.request).ok();
        // A request from DataPass is decided on DataPass: no local decision form.
        let local = loaded.request.datapass_id.is_none();
        let can = |event: RequestEvent| {
            local && current.is_some_and(|s| apply(Some(s), event, Some("motif")).is_ok())
        };
        context.insert("can_approve", &can(RequestEvent::Approve));
        context.insert("can_refuse", &can(RequestEvent::Refuse));
        context.insert("can_request_changes", &can(RequestEvent::RequestChanges));
        context.insert(
            "any_failed",
            &checks
                .iter()
                .any(|c| c.status == crate::domain::checks::CheckStatus::Failed),
        );
        context.insert("checks", &checks);
        context.insert("templates", &templates);
        if let Some(submitted) = loaded.request.last_submitted_at
            && matches!(
                loaded.request.state,
                RequestState::Submitted | RequestState::ChangesRequested
            )
        {
            let deadline = crate::domain::calendar::instruction_deadline(
                crate::domain::calendar::paris_date(submitted),
            );
            let status = crate::domain::calendar::deadline_status(deadline, today);
            context.insert("deadline", &deadline);
            context.insert("deadline_status", status.as_str());
            context.insert("deadline_label", status.label_fr());
        }
    }
    let request = &loaded.request;
    let state_label = request.state.label_fr();
    let contacts: Vec<ContactView> = loaded
        .contacts
        .iter()
        .map(|c| ContactView {
            role: roles::label_fr(&c.role),
            name: [c.given_name.as_deref(), c.family_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
            email: c.email.clone(),
            job_title: c.job_title.clone(),
            phone_number: c.phone_number.clone(),
        })
        .collect();
    if let Some(token) = &loaded.token {
        let status = token.status(today);
        context.insert("token_status", status.as_str());
        context.insert("token_status_label", status.label_fr());
        context.insert(
            "token_phrase",
            &crate::domain::token::expiry_phrase_fr(crate::domain::token::days_left(
                token.expires_on,
                today,
            )),
        );
    }
    if let Some(hubee) = &loaded.hubee {
        context.insert("hubee_status_label", hubee.status.label_fr());
    }
    if let Some(number) = request.datapass_id {
        let base = &state.settings.datapass_url;
        context.insert(
            "datapass_instruction_url",
            &format!("{base}/instruction/demandes/{number}"),
        );
        context.insert("datapass_demande_url", &format!("{base}/demandes/{number}"));
    }
    if let Some(mirror) = &loaded.mirror {
        context.insert(
            "datapass_state_label",
            mirror
                .datapass_state
                .parse::<RequestState>()
                .map_or("Inconnu", RequestState::label_fr),
        );
    }
    context.insert("mirror", &loaded.mirror);
    context.insert("differences", &loaded.differences);
    context.insert(
        "difference_labels",
        &loaded
            .differences
            .iter()
            .map(|d| kind_label_fr(&d.kind))
            .collect::<Vec<_>>(),
    );
    context.insert("request", request);
    context.insert("state_label", state_label);
    context.insert("collectivite", &loaded.collectivite);
    context.insert("editeur", &loaded.editeur);
    context.insert("token", &loaded.token);
    context.insert("hubee", &loaded.hubee);
    context.insert("form_state", &loaded.form_state);
    context.insert("approval_mail_held", &loaded.approval_mail_held);
    context.insert("contacts", &contacts);
    context.insert("timeline", &loaded.timeline);
    context.insert("file", &loaded.file);
    context.insert("error", &error);
    state.render_status(status, "requests/show.html", context)
}
