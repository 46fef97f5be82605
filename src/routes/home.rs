//! The home page: each signed-in person's entry points — the staff overview (requests per
//! state, tokens, HubEE, collectivités), an éditeur's clients, a contact's requests.

use actix_web::{HttpResponse, web};

use super::ListQuery;
use crate::auth::PageCtx;
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
        let (by_state, by_token_status, by_hubee_status, list) = state
            .db(move |conn| {
                let by_state = requests::count_by_state(conn)?;
                let by_token_status = tokens::count_by_status(conn, today)?;
                let by_hubee_status = hubee::count_by_status(conn)?;
                let list = collectivites::search(conn, &q, page_number)?;
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
        let (clients, mine, form_states) = state
            .db(move |conn| {
                let clients = if editeur_ids.is_empty() {
                    None
                } else {
                    Some(requests::summaries(
                        conn,
                        &Scope::Editeurs(editeur_ids),
                        today,
                        page_number,
                        PER_PAGE,
                    )?)
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
                    .chain(mine.iter())
                    .flat_map(|page| page.items.iter().map(|r| r.collectivite_id.clone()))
                    .collect();
                let form_states = crate::provisioning::form_states(conn, &ids, form_api)?;
                Ok((clients, mine, form_states))
            })
            .await?;
        context.insert("clients", &clients);
        context.insert("mine", &mine);
        context.insert("form_states", &form_states);
    }
    context.insert("q", &query.q);
    state.render("home.html", context)
}
