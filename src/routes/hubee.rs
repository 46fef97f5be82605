//! HubEE subscription pages: the staff list and actions (access mode, notifications,
//! delegation, activation, suspension, provisioning retry, sync differences); éditeurs and
//! demandeurs see their subscriptions read-only.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use diesel::prelude::*;

use super::see_other;
use crate::auth::{PageCtx, Staff};
use crate::db::schema::{collectivites, editeurs, hubee_subscriptions, hubee_sync_issues};
use crate::db::{Page, offset};
use crate::domain::hubee::{NOTIFICATION_FREQUENCIES, SubscriptionStatus};
use crate::error::AppError;
use crate::models::hubee::HubeeSubscription;
use crate::models::{access, events};
use crate::state::AppState;

route_table! {
    get "/abonnements" => list,
    get "/abonnements/ecarts" => issues,
    post "/abonnements/ecarts/{id}/resolu" => resolve_issue,
    get "/abonnements/{id}" => show,
    post "/abonnements/{id}/mode" => set_mode,
    post "/abonnements/{id}/notifications" => set_notifications,
    post "/abonnements/{id}/activation" => activate,
    get "/abonnements/{id}/suspendre" => confirm_suspend,
    post "/abonnements/{id}/suspendre" => suspend,
    post "/abonnements/{id}/reactivation" => reactivate,
    post "/abonnements/{id}/provisionner" => retry_provisioning,
}

#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct Filter {
    #[serde(default)]
    statut: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    departement: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<String>,
}

/// One row of `/abonnements`.
#[derive(serde::Serialize)]
pub struct Line {
    id: String,
    collectivite: String,
    siret: String,
    departement: Option<String>,
    status: SubscriptionStatus,
    status_label: &'static str,
    access_mode: String,
    notification_frequency: String,
    delegation: Option<String>,
    datapass_id: Option<i64>,
    activation_date: Option<NaiveDate>,
    provisioning: &'static str,
}

/// A page of `/abonnements`.
pub type ListPage = Page<Line>;

type ListRow = (
    HubeeSubscription,
    String,
    String,
    Option<String>,
    Option<String>,
);

/// Applies the status, access-mode and search filters, which read only the subscription
/// (the search its collectivité id, or a D-number), to a boxed query over
/// `hubee_subscriptions` (alone or joined).
macro_rules! subscription_filters {
    ($q:expr, $f:expr, $search:expr) => {{
        let mut q = $q;
        if !$f.statut.is_empty() {
            q = q.filter(hubee_subscriptions::status.eq($f.statut.clone()));
        }
        if !$f.mode.is_empty() {
            q = q.filter(hubee_subscriptions::access_mode.eq($f.mode.clone()));
        }
        if let Some(search) = &$search {
            // The DataPass number only when the text is one: an `OR` that cannot match would
            // still make SQLite read each found subscription's row instead of the index.
            match $f.q.trim().trim_start_matches(['D', 'd']).parse::<i64>() {
                Ok(number) => {
                    q = q.filter(
                        search
                            .clone()
                            .or(hubee_subscriptions::datapass_id.eq(number)),
                    )
                }
                Err(_) => q = q.filter(search.clone()),
            }
        }
        q
    }};
}

/// `GET /abonnements` (staff).
pub async fn list(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
    query: web::Query<Filter>,
) -> Result<HttpResponse, AppError> {
    let filter = query.into_inner();
    let f = filter.clone();
    let configured = state.hubee.is_some();
    let number = filter
        .page
        .as_deref()
        .and_then(|p| p.parse().ok())
        .unwrap_or(1);
    let results = state.list_results.clone();
    let kept = state.pages.clone();
    let list = state
        .db(move |conn| {
            let number_key = number.max(1).to_string();
            let key = crate::models::result_cache::key(
                "abonnements",
                &[&f.q, &f.statut, &f.mode, &f.departement, &number_key],
            );
            Ok(kept.subscriptions.get_or_compute(conn, key, |conn| {
                let text = crate::search::parse(&f.q);
                // A search is read through the result cache below; the other paths filter on
                // the subscription and its collectivité only.
                let search = None::<crate::search::TargetIn>;
                let joined = || {
                    hubee_subscriptions::table
                        .inner_join(collectivites::table)
                        .left_join(crate::db::schema::hubee_provisioning::table)
                        .into_boxed()
                };
                let filtered = || {
                    let mut q = joined();
                    if !f.departement.is_empty() {
                        q = q.filter(collectivites::departement.eq(f.departement.clone()));
                    }
                    subscription_filters!(q, f, search)
                };
                let per_page = 30;
                let mut matches: Option<std::sync::Arc<crate::models::result_cache::Matches>> =
                    None;
                // Without a filter on the collectivité, counted on the subscriptions alone (each
                // has its collectivité; the provisioning join is a left join on its key).
                let total: i64 =
                    if f.departement.is_empty() && f.q.trim().is_empty() && f.mode.is_empty() {
                        // The per-status counters kept by triggers (see `models::counters`).
                        crate::models::counters::buckets(conn, crate::models::counters::HUBEE)?
                            .iter()
                            .filter(|(status, _)| f.statut.is_empty() || *status == f.statut)
                            .map(|(_, n)| n)
                            .sum()
                    } else if f.departement.is_empty() && f.q.trim().is_empty() {
                        let q = hubee_subscriptions::table.into_boxed();
                        subscription_filters!(q, f, None::<crate::search::TargetIn>)
                            .count()
                            .get_result(conn)?
                    } else if let Some(text) = &text {
                        // A search: one read of the matches' ids in the list's order (at most a
                        // few thousand, see `search::LIST_CAP`) gives the count and the page, kept
                        // until the data changes (see `models::result_cache`).
                        let key = crate::models::result_cache::key(
                            "abonnements",
                            &[&f.q, &f.statut, &f.mode, &f.departement],
                        );
                        let found = results.get_or_compute(conn, key, |conn| {
                            let search = Some(crate::search::target_in(
                                conn,
                                "hubee_subscriptions.collectivite_id",
                                crate::search::Kind::Collectivite,
                                text,
                            )?);
                            let mut q = hubee_subscriptions::table
                                .inner_join(collectivites::table)
                                .into_boxed();
                            if !f.departement.is_empty() {
                                q = q.filter(collectivites::departement.eq(f.departement.clone()));
                            }
                            let ids = subscription_filters!(q, f, search)
                                .order((collectivites::name.asc(), hubee_subscriptions::id.asc()))
                                .select(hubee_subscriptions::id)
                                .load(conn)?;
                            Ok(crate::models::result_cache::Matches {
                                ids,
                                capped: search.is_some_and(|s| s.capped),
                            })
                        })?;
                        let total = found.total();
                        matches = Some(found);
                        total
                    } else {
                        filtered().count().get_result(conn)?
                    };
                let truncated = matches.as_ref().is_some_and(|m| m.capped);
                let pages = crate::db::page_count(total, per_page);
                let number = number.clamp(1, pages);
                let rows_query = match matches {
                    // The page's ids already passed every filter: only they are joined.
                    Some(found) => joined().filter(crate::db::condition::Condition::one_of(
                        conn,
                        "hubee_subscriptions.id",
                        crate::db::page_of(&found.ids, number, per_page),
                    )),
                    None => filtered().limit(per_page).offset(offset(number, per_page)),
                };
                let rows: Vec<ListRow> = rows_query
                    .order((collectivites::name.asc(), hubee_subscriptions::id.asc()))
                    .select((
                        HubeeSubscription::as_select(),
                        collectivites::name,
                        collectivites::siret,
                        collectivites::departement,
                        crate::db::schema::hubee_provisioning::state.nullable(),
                    ))
                    .load(conn)?;
                let sirets: Vec<String> = rows
                    .iter()
                    .filter_map(|r| r.0.delegation_editeur_siret.clone())
                    .collect();
                let names: Vec<(String, String)> = editeurs::table
                    .filter(crate::db::condition::Condition::one_of(
                        conn,
                        "editeurs.siret",
                        &sirets,
                    ))
                    .select((editeurs::siret, editeurs::name))
                    .load(conn)?;
                let lines: Vec<Line> = rows
                    .into_iter()
                    .map(|(s, name, siret, departement, provisioning)| Line {
                        delegation: s.delegation_editeur_siret.as_ref().map(|d| {
                            names
                                .iter()
                                .find(|(siret, _)| siret == d)
                                .map_or_else(|| d.clone(), |(_, n)| n.clone())
                        }),
                        id: s.id,
                        collectivite: name,
                        siret,
                        departement,
                        status_label: s.status.label_fr(),
                        status: s.status,
                        access_mode: s.access_mode,
                        notification_frequency: s.notification_frequency,
                        datapass_id: s.datapass_id,
                        activation_date: s.activation_date,
                        provisioning: crate::hubee::state_label(
                            provisioning.as_deref(),
                            configured,
                        ),
                    })
                    .collect();
                Ok(crate::state::Kept::new(Page {
                    items: lines,
                    page: number,
                    per_page,
                    total,
                    pages,
                    truncated,
                }))
            })?)
        })
        .await?;
    let base = {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        pairs
            .append_pair("statut", &filter.statut)
            .append_pair("mode", &filter.mode)
            .append_pair("departement", &filter.departement)
            .append_pair("q", &filter.q);
        format!("/abonnements?{}&amp;", pairs.finish().replace('&', "&amp;"))
    };
    let mut context = page.context();
    context.insert("subscriptions", &list.page.info());
    context.insert(
        "rows",
        state.kept_rows(&list, "hubee/list_rows.html", "subscriptions")?,
    );
    context.insert("filter", &filter);
    context.insert("configured", &configured);
    context.insert(
        "statuses",
        &SubscriptionStatus::ALL
            .iter()
            .map(|s| (s.as_str(), s.label_fr()))
            .collect::<Vec<_>>(),
    );
    context.insert("base", &base);
    state.render("hubee/list.html", context)
}

async fn render_show(
    state: &AppState,
    page: &PageCtx,
    id: &str,
    status: StatusCode,
    error: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let user = page.user()?.clone();
    let id = id.to_owned();
    let (subscription, collectivite, siret, provisioning, editeur_choices, history) = state
        .db(move |conn| {
            let subscription: HubeeSubscription = hubee_subscriptions::table
                .find(&id)
                .select(HubeeSubscription::as_select())
                .first(conn)
                .optional()?
                .ok_or(AppError::NotFound)?;
            if !access::subscription_visible(
                conn,
                &user,
                subscription.delegation_editeur_siret.as_deref(),
                &subscription.collectivite_id,
            )? {
                return Err(AppError::NotFound);
            }
            let (name, siret): (String, String) = collectivites::table
                .find(&subscription.collectivite_id)
                .select((collectivites::name, collectivites::siret))
                .first(conn)?;
            let provisioning = crate::hubee::provisioning_of(conn, &subscription.id)?;
            let editeur_choices: Vec<(String, String)> = editeurs::table
                .order(editeurs::name.asc())
                .select((editeurs::siret, editeurs::name))
                .load(conn)?;
            let history = if user.is_staff {
                events::for_target(conn, "hubee_subscription", &subscription.id)?
            } else {
                Vec::new()
            };
            Ok((
                subscription,
                name,
                siret,
                provisioning,
                editeur_choices,
                history,
            ))
        })
        .await?;
    let configured = state.hubee.is_some();
    let mut context = page.context();
    context.insert(
        "delegation_name",
        &subscription.delegation_editeur_siret.as_ref().map(|d| {
            editeur_choices
                .iter()
                .find(|(s, _)| s == d)
                .map_or_else(|| d.clone(), |(_, n)| n.clone())
        }),
    );
    context.insert("subscription", &subscription);
    context.insert("status_label", subscription.status.label_fr());
    context.insert("collectivite", &collectivite);
    context.insert("siret", &siret);
    context.insert("provisioning", &provisioning);
    context.insert(
        "provisioning_label",
        crate::hubee::state_label(provisioning.as_ref().map(|p| p.state.as_str()), configured),
    );
    context.insert("configured", &configured);
    context.insert("editeurs", &editeur_choices);
    context.insert("frequencies", &NOTIFICATION_FREQUENCIES);
    context.insert("history", &history);
    context.insert("today", &crate::domain::calendar::paris_date(page.now));
    context.insert("error", &error);
    state.render_status(status, "hubee/show.html", context)
}

/// `GET /abonnements/{id}`: staff act on it; its éditeur and contacts read it.
pub async fn show(
    state: web::Data<AppState>,
    page: PageCtx,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    render_show(&state, &page, &path, StatusCode::OK, None).await
}

/// Applies a staff change: checks, updates, logs, and queues the HubEE provisioning.
async fn change(
    state: &AppState,
    staff: &Staff,
    id: &str,
    action: &'static str,
    apply: impl FnOnce(&HubeeSubscription) -> Result<Changes, String> + Send + 'static,
) -> Result<HttpResponse, AppError> {
    let (page, user) = (&staff.page, staff.user.clone());
    let now = page.now;
    let target = id.to_owned();
    let outcome = state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                let subscription: HubeeSubscription = hubee_subscriptions::table
                    .find(&target)
                    .select(HubeeSubscription::as_select())
                    .first(conn)
                    .optional()?
                    .ok_or(AppError::NotFound)?;
                let changes = match apply(&subscription) {
                    Ok(changes) => changes,
                    Err(message) => return Ok(Err(message)),
                };
                diesel::update(hubee_subscriptions::table.find(&target))
                    .set((
                        hubee_subscriptions::status
                            .eq(changes.status.unwrap_or(subscription.status)),
                        hubee_subscriptions::access_mode.eq(changes
                            .access_mode
                            .unwrap_or(subscription.access_mode.clone())),
                        hubee_subscriptions::delegation_editeur_siret.eq(changes
                            .delegation
                            .unwrap_or(subscription.delegation_editeur_siret.clone())),
                        hubee_subscriptions::notification_frequency.eq(changes
                            .frequency
                            .unwrap_or(subscription.notification_frequency.clone())),
                        hubee_subscriptions::notification_email.eq(changes
                            .email
                            .unwrap_or(subscription.notification_email.clone())),
                        hubee_subscriptions::activation_date
                            .eq(changes.activation.unwrap_or(subscription.activation_date)),
                        hubee_subscriptions::end_date
                            .eq(changes.end.unwrap_or(subscription.end_date)),
                        hubee_subscriptions::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                events::record(
                    conn,
                    now,
                    &user.email,
                    action,
                    ("hubee_subscription", &target),
                    Some(changes.summary),
                )?;
                crate::hubee::request_provisioning(conn, &target, now)?;
                Ok(Ok(()))
            })
        })
        .await?;
    match outcome {
        Ok(()) => {
            state.hubee_wakeup.notify_one();
            Ok(see_other(&format!("/abonnements/{id}")))
        }
        Err(message) => render_show(state, page, id, StatusCode::BAD_REQUEST, Some(&message)).await,
    }
}

/// What a staff action changes (`None`: unchanged).
#[derive(Default)]
struct Changes {
    status: Option<SubscriptionStatus>,
    access_mode: Option<String>,
    delegation: Option<Option<String>>,
    frequency: Option<String>,
    email: Option<Option<String>>,
    activation: Option<Option<NaiveDate>>,
    end: Option<Option<NaiveDate>>,
    summary: String,
}

#[derive(serde::Deserialize)]
pub struct ModeForm {
    #[serde(default)]
    access_mode: String,
    #[serde(default)]
    editeur_siret: String,
}

/// `POST /abonnements/{id}/mode`: PORTAIL, or API with the éditeur it is delegated to.
pub async fn set_mode(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    form: web::Form<ModeForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let known: Vec<String> = state
        .db(|conn| Ok(editeurs::table.select(editeurs::siret).load(conn)?))
        .await?;
    change(&state, &staff, &path, "hubee.access_mode", move |_| {
        match form.access_mode.as_str() {
            "PORTAIL" => Ok(Changes {
                access_mode: Some("PORTAIL".into()),
                delegation: Some(None),
                summary: "mode d'accès PORTAIL".into(),
                ..Changes::default()
            }),
            "API" => {
                if !known.contains(&form.editeur_siret) {
                    return Err("Le mode API demande de choisir l'éditeur qui accède aux dossiers pour la collectivité.".into());
                }
                Ok(Changes {
                    access_mode: Some("API".into()),
                    delegation: Some(Some(form.editeur_siret.clone())),
                    summary: format!("mode d'accès API, délégation EDT à {}", form.editeur_siret),
                    ..Changes::default()
                })
            }
            _ => Err("Mode d'accès inconnu : PORTAIL ou API.".into()),
        }
    })
    .await
}

#[derive(serde::Deserialize)]
pub struct NotificationForm {
    #[serde(default)]
    frequency: String,
    #[serde(default)]
    email: String,
}

/// `POST /abonnements/{id}/notifications`: frequency and one address.
pub async fn set_notifications(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    form: web::Form<NotificationForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    change(&state, &staff, &path, "hubee.notifications", move |_| {
        if !NOTIFICATION_FREQUENCIES.contains(&form.frequency.as_str()) {
            return Err("Fréquence inconnue : Biquotidienne, Quotidienne, Unitaire ou Aucune.".into());
        }
        let email = crate::mail::normalize_address(&form.email);
        if form.frequency != "Aucune" && !crate::mail::is_valid_address(&email) {
            return Err("Une adresse e-mail valide est nécessaire pour recevoir les notifications (une seule adresse).".into());
        }
        Ok(Changes {
            frequency: Some(form.frequency.clone()),
            email: Some(Some(email.clone()).filter(|e| !e.is_empty())),
            summary: format!("notifications {} à {email}", form.frequency),
            ..Changes::default()
        })
    })
    .await
}

#[derive(serde::Deserialize)]
pub struct ActivationForm {
    #[serde(default)]
    date: String,
}

/// `POST /abonnements/{id}/activation`: active from a chosen date, today or later.
pub async fn activate(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    form: web::Form<ActivationForm>,
) -> Result<HttpResponse, AppError> {
    let today = crate::domain::calendar::paris_date(staff.page.now);
    let date = NaiveDate::parse_from_str(form.date.trim(), "%Y-%m-%d").ok();
    change(&state, &staff, &path, "hubee.activate", move |s| {
        let Some(date) = date else {
            return Err("Date d'activation illisible (format attendu : AAAA-MM-JJ).".into());
        };
        if date < today {
            return Err("La date d'activation doit être aujourd'hui ou plus tard.".into());
        }
        if s.status == SubscriptionStatus::Refuse {
            return Err("Un abonnement refusé ne peut pas être activé.".into());
        }
        Ok(Changes {
            status: Some(SubscriptionStatus::Actif),
            activation: Some(Some(date)),
            end: Some(None),
            summary: format!("activation au {}", date.format("%d/%m/%Y")),
            ..Changes::default()
        })
    })
    .await
}

/// `GET /abonnements/{id}/suspendre`: asks for confirmation.
pub async fn confirm_suspend(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let lookup = id.clone();
    let name: String = state
        .db(move |conn| {
            hubee_subscriptions::table
                .inner_join(collectivites::table)
                .filter(hubee_subscriptions::id.eq(&lookup))
                .select(collectivites::name)
                .first(conn)
                .optional()?
                .ok_or(AppError::NotFound)
        })
        .await?;
    super::render_confirm(
        &state,
        &page,
        &format!("Suspendre l'abonnement HubEE de {name} ?"),
        "Les familles ne pourront plus transmettre leur quotient familial à cette collectivité tant que l'abonnement est suspendu.",
        &format!("/abonnements/{id}/suspendre"),
        &format!("/abonnements/{id}"),
    )
}

/// `POST /abonnements/{id}/suspendre`.
pub async fn suspend(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    change(&state, &staff, &path, "hubee.suspend", |s| {
        if s.status != SubscriptionStatus::Actif {
            return Err("Seul un abonnement actif peut être suspendu.".into());
        }
        Ok(Changes {
            status: Some(SubscriptionStatus::Suspendu),
            summary: "suspension".into(),
            ..Changes::default()
        })
    })
    .await
}

/// `POST /abonnements/{id}/reactivation`.
pub async fn reactivate(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    change(&state, &staff, &path, "hubee.reactivate", |s| {
        if s.status != SubscriptionStatus::Suspendu {
            return Err("Seul un abonnement suspendu peut être réactivé.".into());
        }
        Ok(Changes {
            status: Some(SubscriptionStatus::Actif),
            summary: "réactivation".into(),
            ..Changes::default()
        })
    })
    .await
}

/// `POST /abonnements/{id}/provisionner`: sends it to HubEE again now.
pub async fn retry_provisioning(
    state: web::Data<AppState>,
    Staff { page, user }: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    if state.hubee.is_none() {
        return render_show(
            &state,
            &page,
            &path,
            StatusCode::BAD_REQUEST,
            Some("HubEE n'est pas configuré : l'abonnement se gère à la main."),
        )
        .await;
    }
    let id = path.into_inner();
    let now = page.now;
    let target = id.clone();
    state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                let exists: i64 = hubee_subscriptions::table
                    .find(&target)
                    .count()
                    .get_result(conn)?;
                if exists == 0 {
                    return Err(AppError::NotFound);
                }
                crate::hubee::request_provisioning(conn, &target, now)?;
                events::record(
                    conn,
                    now,
                    &user.email,
                    "hubee.provision_retry",
                    ("hubee_subscription", &target),
                    None,
                )?;
                Ok(())
            })
        })
        .await?;
    state.hubee_wakeup.notify_one();
    Ok(see_other(&format!("/abonnements/{id}")))
}

#[derive(Clone, Debug, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = hubee_sync_issues)]
struct Issue {
    id: String,
    subscription_id: Option<String>,
    hubee_id: Option<String>,
    siret: Option<String>,
    kind: String,
    details: String,
    detected_at: chrono::NaiveDateTime,
    resolved_at: Option<chrono::NaiveDateTime>,
    resolved_by: Option<String>,
}

/// `GET /abonnements/ecarts` (staff): what the sync could not reconcile.
pub async fn issues(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
) -> Result<HttpResponse, AppError> {
    let list: Vec<Issue> = state
        .db(|conn| {
            Ok(hubee_sync_issues::table
                .filter(hubee_sync_issues::resolved_at.is_null())
                .order(hubee_sync_issues::detected_at.desc())
                .select(Issue::as_select())
                .load(conn)?)
        })
        .await?;
    let mut context = page.context();
    context.insert("issues", &list);
    context.insert("configured", &state.hubee.is_some());
    state.render("hubee/issues.html", context)
}

/// `POST /abonnements/ecarts/{id}/resolu`: marks a difference as dealt with.
pub async fn resolve_issue(
    state: web::Data<AppState>,
    Staff { page, user }: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let now = page.now;
    state
        .db(move |conn| {
            let changed = diesel::update(
                hubee_sync_issues::table
                    .find(&id)
                    .filter(hubee_sync_issues::resolved_at.is_null()),
            )
            .set((
                hubee_sync_issues::resolved_at.eq(Some(now)),
                hubee_sync_issues::resolved_by.eq(Some(&user.email)),
            ))
            .execute(conn)?;
            if changed == 0 {
                return Err(AppError::NotFound);
            }
            events::record(
                conn,
                now,
                &user.email,
                "hubee.issue_resolved",
                ("hubee_sync_issue", &id),
                None,
            )?;
            Ok(())
        })
        .await?;
    Ok(see_other("/abonnements/ecarts"))
}
