//! The staff instruction queue page.

use actix_web::{HttpResponse, web};

use crate::auth::Staff;
use crate::error::AppError;
use crate::instruction::queue::{self, QueueFilter};
use crate::state::AppState;

#[derive(serde::Deserialize)]
pub struct QueueQuery {
    #[serde(flatten)]
    filter: QueueFilter,
    #[serde(default)]
    page: Option<String>,
}

/// `GET /instruction`: the queue.
pub async fn queue_page(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
    query: web::Query<QueueQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let filter = query.filter.clone();
    let number = query
        .page
        .as_deref()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(1);
    let today = crate::domain::calendar::paris_date(page.now);
    let choices = state.filter_choices.clone();
    let results = state.list_results.clone();
    let pages = state.pages.clone();
    let (list, choices) = state
        .db(move |conn| {
            let today_key = today.to_string();
            let number_key = number.max(1).to_string();
            let key = crate::models::result_cache::key(
                "queue",
                &[
                    &filter.etat,
                    &filter.editeur,
                    &filter.departement,
                    if filter.en_retard.is_some() { "1" } else { "" },
                    &filter.q,
                    &number_key,
                    &today_key,
                ],
            );
            let list = pages.queue.get_or_compute(conn, key, |conn| {
                queue::list(conn, &filter, today, number, &results).map(crate::state::Kept::new)
            })?;
            let choices = crate::models::filter_choices(conn, &choices)?;
            Ok((list, choices))
        })
        .await?;
    let base = {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        pairs
            .append_pair("etat", &query.filter.etat)
            .append_pair("editeur", &query.filter.editeur)
            .append_pair("departement", &query.filter.departement)
            .append_pair("q", &query.filter.q);
        if query.filter.en_retard.is_some() {
            pairs.append_pair("en_retard", "1");
        }
        format!("/instruction?{}&amp;", pairs.finish().replace('&', "&amp;"))
    };
    let mut context = page.context();
    context.insert("queue", &list.page.info());
    context.insert(
        "rows",
        state.kept_rows(&list, "instruction/queue_rows.html", "queue")?,
    );
    context.insert("filter", &query.filter);
    context.insert("overdue_only", &query.filter.en_retard.is_some());
    context.insert(
        "editeur_options",
        &choices.editeur_options(&query.filter.editeur),
    );
    context.insert(
        "departement_options",
        &choices.departement_options(&query.filter.departement),
    );
    context.insert("base", &base);
    state.render("instruction/queue.html", context)
}
