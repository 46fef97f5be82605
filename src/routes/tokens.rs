//! Tokens: the staff list (status, days left, filters, expiries per month), revocation, and
//! the prolongation form of the demandeur.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use diesel::prelude::*;

use super::see_other;
use crate::auth::{Identity, PageCtx, Staff};
use crate::db::DbConnection;
use crate::db::schema::{token_reminders, tokens};
use crate::domain::request_state::{RequestEvent, RequestState};
use crate::domain::token::{days_left, expiry_date, expiry_phrase_fr, prolongation_open};
use crate::error::AppError;
use crate::instruction::{self as service, Actor};
use crate::models::tokens::{self as model, TokenContext, TokenFilter};
use crate::models::{access, events};
use crate::state::AppState;

route_table! {
    get "/jetons" => list,
    get "/jetons/{id}" => show,
    get "/jetons/{id}/revoquer" => confirm_revoke,
    post "/jetons/{id}/revoquer" => revoke,
    get "/jetons/{id}/prolongation" => prolongation_form,
    post "/jetons/{id}/prolongation" => prolong,
    get "/jetons/{id}/prolongation/confirmee" => prolongation_done,
}

#[derive(serde::Deserialize)]
pub struct ListParams {
    #[serde(flatten)]
    filter: TokenFilter,
    #[serde(default)]
    page: Option<String>,
}

/// `GET /jetons` (staff).
pub async fn list(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
    query: web::Query<ListParams>,
) -> Result<HttpResponse, AppError> {
    let params = query.into_inner();
    let filter = params.filter.clone();
    let number = params
        .page
        .as_deref()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(1);
    let today = crate::domain::calendar::paris_date(page.now);
    let choices = state.filter_choices.clone();
    let results = state.list_results.clone();
    let summaries = state.token_summaries.clone();
    let pages = state.pages.clone();
    let (list, summary, choices) = state
        .db(move |conn| {
            let summary = model::summary(conn, &filter, today, &summaries)?;
            // Keyed by the page shown: `?page=0` and `?page=99999` are the first and last.
            let shown = match summary.total {
                Some(total) => crate::db::clamp_page(number, total, model::PER_PAGE),
                None => number.max(1),
            };
            let number_key = shown.to_string();
            let today_key = today.to_string();
            let key = crate::models::result_cache::key(
                "tokens",
                &[
                    &filter.q,
                    &filter.fenetre,
                    &filter.statut,
                    &filter.editeur,
                    &filter.departement,
                    &number_key,
                    &today_key,
                ],
            );
            let list = pages.tokens.get_or_compute(conn, key, |conn| {
                // The count read again here, at a version no older than the page's tag: a
                // total read before it could predate a change the page is kept for.
                let counted = model::summary(conn, &filter, today, &summaries)?.total;
                // The page of the key, not the one asked: what is kept under a page number
                // is that page, even when the count moved between the two reads.
                model::list(conn, &filter, today, shown, &results, counted)
                    .map(crate::state::Kept::new)
            })?;
            let choices = crate::models::filter_choices(conn, &choices)?;
            Ok((list, summary, choices))
        })
        .await?;
    let months = &summary.months;
    let max = months.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let base = {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        pairs
            .append_pair("fenetre", &params.filter.fenetre)
            .append_pair("statut", &params.filter.statut)
            .append_pair("editeur", &params.filter.editeur)
            .append_pair("departement", &params.filter.departement)
            .append_pair("q", &params.filter.q);
        format!("/jetons?{}&amp;", pairs.finish().replace('&', "&amp;"))
    };
    let mut context = page.context();
    context.insert("tokens", &list.page.info());
    context.insert(
        "rows",
        state.kept_rows(&list, "tokens/list_rows.html", "tokens")?,
    );
    context.insert(
        "months",
        &months
            .iter()
            .map(|(m, n)| serde_json::json!({"month": m, "label": month_label(m), "count": n, "width": n * 100 / max}))
            .collect::<Vec<_>>(),
    );
    context.insert("filter", &params.filter);
    context.insert(
        "editeur_options",
        &choices.editeur_options(&params.filter.editeur),
    );
    context.insert(
        "departement_options",
        &choices.departement_options(&params.filter.departement),
    );
    context.insert("base", &base);
    state.render("tokens/list.html", context)
}

fn month_label(month: &str) -> String {
    const NAMES: [&str; 12] = [
        "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
        "déc.",
    ];
    let (year, m) = month.split_once('-').unwrap_or((month, "1"));
    let index = m.parse::<usize>().unwrap_or(1).clamp(1, 12) - 1;
    format!("{} {year}", NAMES[index])
}

async fn load_visible(
    state: &AppState,
    user: &Identity,
    id: &str,
) -> Result<TokenContext, AppError> {
    let user = user.clone();
    let id = id.to_owned();
    state
        .db(move |conn| {
            let ctx = model::context(conn, &id)?.ok_or(AppError::NotFound)?;
            if !access::request_visible(conn, &user, &ctx.request_id, ctx.editeur_id.as_deref())? {
                return Err(AppError::NotFound);
            }
            Ok(ctx)
        })
        .await
}

fn insert_token_facts(context: &mut tera::Context, ctx: &TokenContext, today: chrono::NaiveDate) {
    let status = ctx.token.status(today);
    let left = days_left(ctx.token.expires_on, today);
    context.insert("ctx", ctx);
    context.insert("status", status.as_str());
    context.insert("status_label", status.label_fr());
    context.insert("days_left", &left);
    context.insert("phrase", &expiry_phrase_fr(left));
}

/// `GET /jetons/{id}` (staff): the token, its reminders and the revoke action.
pub async fn show(
    state: web::Data<AppState>,
    Staff { page, user }: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let ctx = load_visible(&state, &user, &path).await?;
    let token_id = ctx.token.id.clone();
    let (reminders, history) = state
        .db(move |conn| {
            let reminders: Vec<(chrono::NaiveDate, i32, i32, chrono::NaiveDateTime)> =
                token_reminders::table
                    .filter(token_reminders::token_id.eq(&token_id))
                    .order(token_reminders::claimed_at.desc())
                    .select((
                        token_reminders::expires_on,
                        token_reminders::stage,
                        token_reminders::days_left,
                        token_reminders::claimed_at,
                    ))
                    .load(conn)?;
            let history = events::for_target(conn, "token", &token_id)?;
            Ok((reminders, history))
        })
        .await?;
    let mut context = page.context();
    insert_token_facts(
        &mut context,
        &ctx,
        crate::domain::calendar::paris_date(page.now),
    );
    context.insert("reminders", &reminders);
    context.insert("history", &history);
    state.render("tokens/show.html", context)
}

/// `GET /jetons/{id}/revoquer` (staff): asks for a reason and a confirmation.
pub async fn confirm_revoke(
    state: web::Data<AppState>,
    Staff { page, user }: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let ctx = load_visible(&state, &user, &path).await?;
    let mut context = page.context();
    insert_token_facts(
        &mut context,
        &ctx,
        crate::domain::calendar::paris_date(page.now),
    );
    context.insert("error", &None::<String>);
    state.render("tokens/revoke.html", context)
}

#[derive(serde::Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    reason: String,
}

/// `POST /jetons/{id}/revoquer` (staff): revokes with a written reason and tells the demandeur.
pub async fn revoke(
    state: web::Data<AppState>,
    Staff { page, user }: Staff,
    path: web::Path<String>,
    form: web::Form<RevokeForm>,
) -> Result<HttpResponse, AppError> {
    let ctx = load_visible(&state, &user, &path).await?;
    let reason = form.reason.trim().to_owned();
    if reason.is_empty() || ctx.token.revoked_at.is_some() {
        let mut context = page.context();
        insert_token_facts(
            &mut context,
            &ctx,
            crate::domain::calendar::paris_date(page.now),
        );
        context.insert(
            "error",
            &Some(if reason.is_empty() {
                "Le motif de la révocation est obligatoire : il est envoyé au demandeur."
            } else {
                "Ce jeton est déjà révoqué."
            }),
        );
        return state.render_status(StatusCode::BAD_REQUEST, "tokens/revoke.html", context);
    }
    let now = page.now;
    let worker = state.clone();
    let id = ctx.token.id.clone();
    state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                let changed =
                    diesel::update(tokens::table.find(&id).filter(tokens::revoked_at.is_null()))
                        .set((
                            tokens::revoked_at.eq(Some(now)),
                            tokens::revocation_reason.eq(Some(&reason)),
                            tokens::next_reminder_on.eq(None::<chrono::NaiveDate>),
                            tokens::updated_at.eq(now),
                        ))
                        .execute(conn)?;
                if changed == 0 {
                    return Ok(());
                }
                events::record(
                    conn,
                    now,
                    &user.email,
                    "token.revoke",
                    ("token", &id),
                    Some(format!("motif : {reason}")),
                )?;
                queue_token_email(
                    conn,
                    &worker,
                    "token_revoked",
                    &ctx,
                    Some(&reason),
                    None,
                    now,
                )?;
                Ok(())
            })
        })
        .await?;
    state.mailer.notify();
    Ok(see_other(&format!("/jetons/{}", path.into_inner())))
}

/// Queues an e-mail about a token to its demandeur, the contact technique in copy.
fn queue_token_email(
    conn: &mut DbConnection,
    state: &AppState,
    template: &str,
    ctx: &TokenContext,
    reason: Option<&str>,
    new_expiry: Option<chrono::NaiveDate>,
    now: chrono::NaiveDateTime,
) -> Result<(), AppError> {
    let Some(demandeur) = ctx.demandeur.clone() else {
        return Ok(());
    };
    let cc: Vec<String> = ctx
        .contact_technique
        .iter()
        .filter(|c| **c != demandeur)
        .cloned()
        .collect();
    let mut context = tera::Context::new();
    context.insert("ctx", ctx);
    context.insert("reason", &reason);
    context.insert("new_expiry", &new_expiry);
    context.insert(
        "token_url",
        &format!(
            "{}/jetons/{}/prolongation",
            state.settings.public_url, ctx.token.id
        ),
    );
    let mut email = state.render_email(template, vec![demandeur], cc, context)?;
    email.related = Some(("token".into(), ctx.token.id.clone()));
    crate::mail::outbox::enqueue(conn, &email, now)?;
    Ok(())
}

/// What the prolongation page may offer to this person.
fn prolongation_state(
    ctx: &TokenContext,
    user: &Identity,
    today: chrono::NaiveDate,
) -> &'static str {
    let revoked = ctx.token.revoked_at.is_some();
    if revoked {
        crate::domain::token::REVOKED
    } else if ctx.reopening {
        "pending"
    } else if ctx.request_state != RequestState::Validated.as_str() {
        "not_validated"
    } else if !prolongation_open(ctx.token.expires_on, revoked, today) {
        "too_early"
    } else if ctx.demandeur.as_deref() != Some(user.email.as_str()) {
        "not_demandeur"
    } else {
        "open"
    }
}

async fn render_prolongation(
    state: &AppState,
    page: &PageCtx,
    ctx: &TokenContext,
    status: StatusCode,
    error: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let user = page.user()?;
    let today = crate::domain::calendar::paris_date(page.now);
    let mut context = page.context();
    insert_token_facts(&mut context, ctx, today);
    context.insert("offer", prolongation_state(ctx, user, today));
    context.insert(
        "opens_on",
        &ctx.token
            .expires_on
            .checked_sub_days(chrono::Days::new(90))
            .unwrap_or(ctx.token.expires_on),
    );
    context.insert("new_expiry", &expiry_date(today));
    context.insert(
        "questions",
        &[
            (
                "collectivite",
                format!("La collectivité est-elle la même (SIRET {}) ?", ctx.siret),
            ),
            (
                "finalite",
                "La finalité et la délibération tarifaire sont-elles inchangées ?".to_owned(),
            ),
            (
                "contacts",
                "Les contacts (demandeur, contact métier, contact technique, DPD) sont-ils inchangés ?"
                    .to_owned(),
            ),
        ],
    );
    context.insert("error", &error);
    state.render_status(status, "tokens/prolongation.html", context)
}

/// `GET /jetons/{id}/prolongation`: the short form, for the demandeur; others see who can.
pub async fn prolongation_form(
    state: web::Data<AppState>,
    page: PageCtx,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let user = page.user()?.clone();
    let ctx = load_visible(&state, &user, &path).await?;
    render_prolongation(&state, &page, &ctx, StatusCode::OK, None).await
}

#[derive(serde::Deserialize)]
pub struct ProlongationForm {
    #[serde(default)]
    collectivite: String,
    #[serde(default)]
    finalite: String,
    #[serde(default)]
    contacts: String,
    #[serde(default)]
    changements: String,
}

/// `POST /jetons/{id}/prolongation`: nothing changed → +18 months now; something changed →
/// a modification request in the staff queue, whose approval prolongs the token.
pub async fn prolong(
    state: web::Data<AppState>,
    page: PageCtx,
    path: web::Path<String>,
    form: web::Form<ProlongationForm>,
) -> Result<HttpResponse, AppError> {
    let user = page.user()?.clone();
    let ctx = load_visible(&state, &user, &path).await?;
    let today = crate::domain::calendar::paris_date(page.now);
    match prolongation_state(&ctx, &user, today) {
        "open" => {}
        "not_demandeur" => {
            return Err(AppError::Forbidden(format!(
                "Seul le demandeur de l'habilitation ({}) peut prolonger ce jeton.",
                ctx.demandeur.as_deref().unwrap_or("non renseigné")
            )));
        }
        // A second click, or a modification already sent: show where things stand.
        "too_early" | "pending" => {
            return Ok(see_other(&format!(
                "/jetons/{}/prolongation/confirmee",
                ctx.token.id
            )));
        }
        _ => {
            return render_prolongation(
                &state,
                &page,
                &ctx,
                StatusCode::CONFLICT,
                Some("La prolongation n'est pas possible pour ce jeton en ce moment."),
            )
            .await;
        }
    }
    let answers = [
        (
            "collectivite",
            form.collectivite.as_str(),
            "la collectivité",
        ),
        (
            "finalite",
            form.finalite.as_str(),
            "la finalité ou la délibération",
        ),
        ("contacts", form.contacts.as_str(), "les contacts"),
    ];
    if answers.iter().any(|(_, a, _)| !matches!(*a, "oui" | "non")) {
        return render_prolongation(
            &state,
            &page,
            &ctx,
            StatusCode::BAD_REQUEST,
            Some("Répondez aux trois questions."),
        )
        .await;
    }
    let changed: Vec<&str> = answers
        .iter()
        .filter(|(_, a, _)| *a == "non")
        .map(|(_, _, label)| *label)
        .collect();
    let details = form.changements.trim().to_owned();
    // A request from DataPass is modified on DataPass: the demandeur is sent there.
    if !changed.is_empty()
        && let Some(number) = ctx.datapass_id
    {
        return announce_datapass_modification(&state, &page, ctx, number, &changed, &details)
            .await;
    }
    if !changed.is_empty() && details.is_empty() {
        return render_prolongation(
            &state,
            &page,
            &ctx,
            StatusCode::BAD_REQUEST,
            Some("Décrivez ce qui a changé : l'équipe en a besoin pour instruire la modification."),
        )
        .await;
    }
    let now = page.now;
    let worker = state.clone();
    let token_id = ctx.token.id.clone();
    let outcome = state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                // Re-read under the write lock: a second click finds the work done.
                let fresh = model::context(conn, &ctx.token.id)?.ok_or(AppError::NotFound)?;
                if prolongation_state(&fresh, &user, crate::domain::calendar::paris_date(now))
                    != "open"
                {
                    return Ok(false);
                }
                if changed.is_empty() {
                    let new_expiry = expiry_date(crate::domain::calendar::paris_date(now));
                    model::set_expiry(conn, &fresh.token.id, new_expiry, now)?;
                    events::record(
                        conn,
                        now,
                        &user.email,
                        "token.prolong",
                        ("token", &fresh.token.id),
                        Some(format!(
                            "prolongation sans changement : expiration {} → {new_expiry}",
                            fresh.token.expires_on
                        )),
                    )?;
                    queue_token_email(
                        conn,
                        &worker,
                        "token_prolonged",
                        &fresh,
                        None,
                        Some(new_expiry),
                        now,
                    )?;
                } else {
                    let note = format!(
                        "Prolongation avec changements ({}) : {details}",
                        changed.join(", ")
                    );
                    let actor = Actor {
                        name: &user.email,
                        at: now,
                    };
                    for event in [RequestEvent::Reopen, RequestEvent::Submit] {
                        service::apply_event(conn, &fresh.request_id, event, None, &actor)
                            .map_err(|e| AppError::BadRequest(e.to_string()))?;
                    }
                    diesel::update(
                        crate::db::schema::habilitation_requests::table.find(&fresh.request_id),
                    )
                    .set(crate::db::schema::habilitation_requests::last_reason.eq(Some(&note)))
                    .execute(conn)?;
                    events::record(
                        conn,
                        now,
                        &user.email,
                        "token.prolongation_request",
                        ("token", &fresh.token.id),
                        Some(note.clone()),
                    )?;
                    events::record(
                        conn,
                        now,
                        &user.email,
                        "request.prolongation_changes",
                        ("request", &fresh.request_id),
                        Some(note),
                    )?;
                }
                Ok(true)
            })
        })
        .await?;
    if outcome {
        state.mailer.notify();
    }
    Ok(see_other(&format!(
        "/jetons/{token_id}/prolongation/confirmee"
    )))
}

/// The "something changed" answer for a request from DataPass: records that a modification is
/// expected (shown to staff), e-mails the demandeur the link and the steps (once), and shows
/// the same on the outcome page. Reminders pause once DataPass reopens the request.
async fn announce_datapass_modification(
    state: &web::Data<AppState>,
    page: &PageCtx,
    ctx: TokenContext,
    number: i64,
    changed: &[&str],
    details: &str,
) -> Result<HttpResponse, AppError> {
    let user = page.user()?.clone();
    let now = page.now;
    let worker = state.clone();
    let token_id = ctx.token.id.clone();
    let changed = changed.join(", ");
    let details = details.to_owned();
    let datapass_url = format!("{}/demandes/{number}", state.settings.datapass_url);
    let queued = state
        .db(move |conn| {
            use crate::db::schema::datapass_mirror;
            crate::db::transaction(conn, |conn| {
                let fresh = model::context(conn, &ctx.token.id)?.ok_or(AppError::NotFound)?;
                if prolongation_state(&fresh, &user, crate::domain::calendar::paris_date(now))
                    != "open"
                {
                    return Ok(false);
                }
                let known: Option<Option<chrono::NaiveDateTime>> = datapass_mirror::table
                    .find(&fresh.request_id)
                    .select(datapass_mirror::modification_expected_at)
                    .first(conn)
                    .optional()?;
                match known {
                    // Announced already (a second click): nothing more to send.
                    Some(Some(_)) => return Ok(false),
                    Some(None) => {
                        diesel::update(datapass_mirror::table.find(&fresh.request_id))
                            .set((
                                datapass_mirror::modification_expected_at.eq(Some(now)),
                                datapass_mirror::modification_expected_by.eq(Some(&user.email)),
                            ))
                            .execute(conn)?;
                    }
                    None => {
                        diesel::insert_into(datapass_mirror::table)
                            .values((
                                datapass_mirror::request_id.eq(&fresh.request_id),
                                datapass_mirror::datapass_state.eq(&fresh.request_state),
                                datapass_mirror::modification_expected_at.eq(Some(now)),
                                datapass_mirror::modification_expected_by.eq(Some(&user.email)),
                                datapass_mirror::updated_at.eq(now),
                            ))
                            .execute(conn)?;
                    }
                }
                let note = if details.is_empty() {
                    format!("modification annoncée ({changed}), à ouvrir sur DataPass")
                } else {
                    format!("modification annoncée ({changed}), à ouvrir sur DataPass : {details}")
                };
                events::record(
                    conn,
                    now,
                    &user.email,
                    "token.prolongation_datapass",
                    ("token", &fresh.token.id),
                    Some(note.clone()),
                )?;
                events::record(
                    conn,
                    now,
                    &user.email,
                    "request.modification_expected",
                    ("request", &fresh.request_id),
                    Some(note),
                )?;
                let Some(demandeur) = fresh.demandeur.clone() else {
                    return Ok(false);
                };
                let cc: Vec<String> = fresh
                    .contact_technique
                    .iter()
                    .filter(|c| **c != demandeur)
                    .cloned()
                    .collect();
                let mut context = tera::Context::new();
                context.insert("ctx", &fresh);
                context.insert("changed", &changed);
                context.insert("datapass_url", &datapass_url);
                context.insert(
                    "token_url",
                    &format!(
                        "{}/jetons/{}/prolongation/confirmee",
                        worker.settings.public_url, fresh.token.id
                    ),
                );
                let mut email =
                    worker.render_email("prolongation_datapass", vec![demandeur], cc, context)?;
                email.related = Some(("token".into(), fresh.token.id.clone()));
                crate::mail::outbox::enqueue(conn, &email, now)?;
                Ok(true)
            })
        })
        .await?;
    if queued {
        state.mailer.notify();
    }
    Ok(see_other(&format!(
        "/jetons/{token_id}/prolongation/confirmee"
    )))
}

/// `GET /jetons/{id}/prolongation/confirmee`: the outcome, with the token's current date.
pub async fn prolongation_done(
    state: web::Data<AppState>,
    page: PageCtx,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let user = page.user()?.clone();
    let ctx = load_visible(&state, &user, &path).await?;
    let request_id = ctx.request_id.clone();
    let expected: Option<chrono::NaiveDateTime> = state
        .db(move |conn| {
            use crate::db::schema::datapass_mirror;
            Ok(datapass_mirror::table
                .find(&request_id)
                .select(datapass_mirror::modification_expected_at)
                .first::<Option<chrono::NaiveDateTime>>(conn)
                .optional()?
                .flatten())
        })
        .await?;
    let mut context = page.context();
    insert_token_facts(
        &mut context,
        &ctx,
        crate::domain::calendar::paris_date(page.now),
    );
    context.insert("modification_expected", &expected.is_some());
    if let Some(number) = ctx.datapass_id {
        context.insert(
            "datapass_demande_url",
            &format!("{}/demandes/{number}", state.settings.datapass_url),
        );
    }
    state.render("tokens/prolongation_done.html", context)
}
