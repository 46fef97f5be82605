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
    let cache = state.search_hits.clone();
    // Kept until the data changes (see `models::result_cache`).
    let hits = state
        .db(move |conn| {
            let key = crate::models::result_cache::key("recherche", &[&text]);
            Ok(cache.get_or_compute(conn, key, |conn| search::search(conn, &text))?)
        })
        .await?;
    let mut context = page.context();
    context.insert("q", q.trim());
    context.insert("hits", hits.as_slice());
    state.render("search.html", context)
}
