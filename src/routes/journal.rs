//! The event log page (staff): who did what, when, to what.

use actix_web::{HttpResponse, web};

use super::ListQuery;
use crate::auth::PageCtx;
use crate::error::AppError;
use crate::models::events;
use crate::state::AppState;

/// `GET /journal`: newest first, searchable, paginated.
pub async fn list(
    state: web::Data<AppState>,
    page: PageCtx,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    page.staff()?;
    let q = query.q.clone();
    let number = query.page();
    let list = state
        .db(move |conn| Ok(events::list(conn, &q, number)?))
        .await?;
    let mut context = page.context();
    context.insert("events", &list);
    context.insert("q", &query.q);
    state.render("journal.html", context)
}
