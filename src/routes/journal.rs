//! The event log page (staff): who did what, when, to what.

use actix_web::{HttpResponse, web};

use super::ListQuery;
use crate::auth::Staff;
use crate::error::AppError;
use crate::models::events;
use crate::state::AppState;

/// The filters of the journal, as typed (`qui`, `quoi`, `cible`, `du`, `au`).
#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct JournalFilters {
    #[serde(default)]
    qui: String,
    #[serde(default)]
    quoi: String,
    #[serde(default)]
    cible: String,
    #[serde(default)]
    du: String,
    #[serde(default)]
    au: String,
}

fn day(text: &str, what: &str) -> Result<Option<chrono::NaiveDate>, AppError> {
    match text.trim() {
        "" => Ok(None),
        t => chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| {
                AppError::BadRequest(format!(
                    "Date « {what} » invalide : saisissez une date au format AAAA-MM-JJ."
                ))
            }),
    }
}

/// `GET /journal`: newest first, searchable, filtered by who, what, target and dates,
/// paginated.
pub async fn list(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
    query: web::Query<ListQuery>,
    filters: web::Query<JournalFilters>,
) -> Result<HttpResponse, AppError> {
    let filter = events::EventFilter {
        actor: filters.qui.clone(),
        action: filters.quoi.clone(),
        target: filters.cible.clone(),
        from: day(&filters.du, "du")?,
        to: day(&filters.au, "au")?,
    };
    let q = query.q.clone();
    let number = query.page();
    let list = state
        .db(move |conn| Ok(events::list_filtered(conn, &q, &filter, number)?))
        .await?;
    let mut context = page.context();
    context.insert("events", &list);
    context.insert("q", &query.q);
    // The filters for the page links: URL-encoded, `&amp;`-separated (HTML attribute).
    let filter_query: String = [
        ("qui", &filters.qui),
        ("quoi", &filters.quoi),
        ("cible", &filters.cible),
        ("du", &filters.du),
        ("au", &filters.au),
    ]
    .iter()
    .filter(|(_, v)| !v.trim().is_empty())
    .map(|(k, v)| {
        format!(
            "&amp;{k}={}",
            url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
        )
    })
    .collect();
    context.insert("filter_query", &filter_query);
    context.insert("filters", &filters.into_inner());
    state.render("journal.html", context)
}
