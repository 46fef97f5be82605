//! The home page: each signed-in person's entry points — the staff overview (requests per
//! state, tokens, HubEE, collectivités), an éditeur's clients, a contact's requests.

use actix_web::{HttpResponse, web};

use super::ListQuery;
use crate::auth::PageCtx;
use crate::domain::request_state::RequestState;
use crate::error::AppError;
use crate::models::requests::Scope;
use crate::models::{collectivites, hubee, requests, tokens};
use crate::state::AppState;

#[derive(serde::Serialize)]
struct Count {
    code: &'static str,
    label: &'static str,
    count: i64,
}

/// Rows per page of the éditeur and contact lists.
const PER_PAGE: i64 = 20;

/// `GET /`: the signed-in person's overview; anonymous visitors go to the sign-in page.
pub async fn home(
    state: web::Data<AppState>,
    page: PageCtx,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let user = page.user()?.clone();
    let query = query.into_inner();
    let today = crate::domain::calendar::paris_date(page.now);
    let mut context = page.context();
    let q = query.q.clone();
    let page_number = query.page();

    if user.is_staff {
        let results = state.list_results.clone();
        let (by_state, by_token_status, by_hubee_status, list) = state
            .db(move |conn| {
                let by_state = requests::count_by_state(conn)?;
                let by_token_status = tokens::count_by_status(conn, today)?;
                let by_hubee_status = hubee::count_by_status(conn)?;
                let list = collectivites::search(conn, &q, page_number, &results)?;
                Ok((by_state, by_token_status, by_hubee_status, list))
            })
            .await?;
        context.insert(
            "request_counts",
            &by_state
                .iter()
                .map(|(s, n)| Count {
                    code: s.as_str(),
                    label: s.label_fr(),
                    count: *n,
                })
                .collect::<Vec<_>>(),
        );
        context.insert(
            "token_counts",
            &by_token_status
                .iter()
                .map(|(s, n)| Count {
                    code: s.as_str(),
                    label: s.label_fr(),
                    count: *n,
                })
                .collect::<Vec<_>>(),
        );
        context.insert(
            "hubee_counts",
            &by_hubee_status
                .iter()
                .map(|(s, n)| Count {
                    code: s.as_str(),
                    label: s.label_fr(),
                    count: *n,
                })
                .collect::<Vec<_>>(),
        );
        context.insert("collectivites", &list);
    } else {
        let editeur_ids = user.editeur_ids.clone();
        let email = user.email.clone();
        let is_contact = user.is_contact;
        let form_api = state.form.can_activate();
        let kept = state.pages.clone();
        let (clients, mine, form_states) = state
            .db(move |conn| {
                let clients = if editeur_ids.is_empty() {
                    None
                } else {
                    let page_key = page_number.to_string();
                    let today_key = today.to_string();
                    let mut parts: Vec<&str> = vec![&page_key, &today_key];
                    parts.extend(editeur_ids.iter().map(String::as_str));
                    let key = crate::models::result_cache::key("client-summaries", &parts);
                    Some(kept.client_summaries.get_or_compute(conn, key, |conn| {
                        requests::summaries(
                            conn,
                            &Scope::Editeurs(editeur_ids.clone()),
                            today,
                            page_number,
                            PER_PAGE,
                        )
                    })?)
                };
                let mine = if is_contact {
                    Some(requests::summaries(
                        conn,
                        &Scope::Contact(email),
                        today,
                        1,
                        100,
                    )?)
                } else {
                    None
                };
                let ids: Vec<String> = clients
                    .iter()
                    .map(|page| &**page)
                    .chain(mine.iter())
                    .flat_map(|page| page.items.iter().map(|r| r.collectivite_id.clone()))
                    .collect();
                let form_states = crate::provisioning::form_states(conn, &ids, form_api)?;
                Ok((clients, mine, form_states))
            })
            .await?;
        if let Some(mine) = &mine {
            context.insert(
                "demandeur_cards",
                &demandeur_cards(&mine.items, &state.settings.form_base_url),
            );
        }
        if user.is_editeur {
            context.insert("editeur_space", &true);
        }
        context.insert("clients", &clients.as_deref());
        context.insert("mine", &mine);
        context.insert("form_states", &form_states);
    }
    context.insert("q", &query.q);
    state.render("home.html", context)
}

/// What a contact's home shows for one of its collectivités: the latest request and token,
/// the form, the HubEE subscription and the next step, and what expiry means, in French.
#[derive(serde::Serialize)]
struct DemandeurCard<'a> {
    request: &'a requests::RequestSummary,
    form_url: String,
    next_step: String,
    at_expiry: Option<String>,
}

/// One card per collectivité, from its most recently active request.
fn demandeur_cards<'a>(
    items: &'a [requests::RequestSummary],
    form_base_url: &str,
) -> Vec<DemandeurCard<'a>> {
    let mut seen: Vec<&str> = Vec::new();
    let mut cards = Vec::new();
    for request in items {
        if seen.contains(&request.collectivite_id.as_str()) {
            continue;
        }
        seen.push(&request.collectivite_id);
        cards.push(DemandeurCard {
            request,
            form_url: format!(
                "{}/collectivites/{}",
                form_base_url.trim_end_matches('/'),
                request.siret
            ),
            next_step: next_step(request),
            at_expiry: request.token_expires_on.map(|d| {
                format!(
                    "Le jeton expire le {}. La prolongation s'ouvre 90 jours avant : il suffit de confirmer que rien n'a changé pour qu'il soit prolongé de 18 mois aussitôt (un changement passe par une nouvelle instruction). Sans prolongation, l'habilitation reste valable et le formulaire continue de s'afficher, mais votre éditeur ne peut plus mettre à jour les quotients familiaux avec ce jeton. Des rappels vous sont envoyés 90, 60, 30, 15 et 7 jours avant, et le jour même.",
                    d.format("%d/%m/%Y")
                )
            }),
        });
    }
    cards
}

/// The next thing expected from the collectivité, in French.
fn next_step(request: &requests::RequestSummary) -> String {
    match request.state {
        RequestState::Draft => "Terminez et envoyez votre demande d'habilitation sur DataPass.".to_owned(),
        RequestState::Submitted => "Votre demande est en cours d'instruction par l'équipe API Particulier (3 jours ouvrés) : rien à faire pour l'instant.".to_owned(),
        RequestState::ChangesRequested => "L'équipe vous a demandé des modifications : complétez votre demande sur DataPass.".to_owned(),
        RequestState::Refused => "Votre demande a été refusée ; le motif figure dans l'e-mail reçu. Vous pouvez déposer une nouvelle demande.".to_owned(),
        RequestState::Revoked => "L'habilitation a été révoquée : contactez l'équipe API Particulier.".to_owned(),
        RequestState::Archived => "Cette demande est archivée.".to_owned(),
        _ => match request.hubee_status {
            None => "Votre abonnement HubEE va être créé : vous recevrez un e-mail de HubEE pour l'activer.".to_owned(),
            Some("Inactif") => "Activez votre abonnement sur HubEE (lien dans l'e-mail reçu de HubEE) : tant qu'il est inactif, les dossiers des familles ne vous parviennent pas.".to_owned(),
            Some("Actif") => if request.hubee_access_mode.as_deref() == Some("API") {
                "Rien à faire : les dossiers des familles arrivent dans votre logiciel par HubEE.".to_owned()
            } else {
                "Rien à faire : les dossiers des familles arrivent sur le portail HubEE.".to_owned()
            },
            Some("Suspendu") => "Votre abonnement HubEE est suspendu : contactez l'équipe API Particulier pour le réactiver.".to_owned(),
            Some(_) => "Votre abonnement HubEE a été refusé : contactez l'équipe API Particulier.".to_owned(),
        },
    }
}
