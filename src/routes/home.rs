//! The home page: the staff overview (requests per state, tokens, HubEE) and the
//! searchable, paginated list of collectivités.

use actix_web::{HttpResponse, web};
use chrono::Utc;

use super::ListQuery;
use crate::error::AppError;
use crate::models::{collectivites, hubee, requests, tokens};
use crate::state::AppState;

#[derive(serde::Serialize)]
struct Count {
    code: &'static str,
    label: &'static str,
    count: i64,
}

/// `GET /`: the overview and the collectivités (`?q=` search, `?page=` pagination).
pub async fn home(
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let today = Utc::now().date_naive();
    let q = query.q.clone();
    let page = query.page();
    let (by_state, by_token_status, by_hubee_status, list) = state
        .db(move |conn| {
            let by_state = requests::count_by_state(conn)?;
            let by_token_status = tokens::count_by_status(conn, today)?;
            let by_hubee_status = hubee::count_by_status(conn)?;
            let list = collectivites::search(conn, &q, page)?;
            Ok((by_state, by_token_status, by_hubee_status, list))
        })
        .await?;

    let mut context = tera::Context::new();
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
    context.insert("q", &query.q);
    state.render("home.html", context)
}
