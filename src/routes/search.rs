//! `/recherche` (staff): one search box across requests, tokens, collectivités, éditeurs and
//! people, results ranked (see `models::search`).

use actix_web::{HttpResponse, web};

use super::ListQuery;
use crate::auth::Staff;
use crate::error::AppError;
use crate::models::search;
use crate::state::AppState;

route_table! {
    get "/recherche" => page,
}

/// `GET /recherche?q=`.
pub async fn page(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let q: String = query.q.chars().take(200).collect();
    let text = q.clone();
    let hits = state
        .db(move |conn| Ok(search::search(conn, &text)?))
        .await?;
    let mut context = page.context();
    context.insert("q", q.trim());
    context.insert("hits", &hits);
    state.render("search.html", context)
}
