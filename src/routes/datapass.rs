//! What staff see of the mirror of DataPass: the differences between DataPass and the back
//! office (from webhooks and reconciliations) and the latest reconciliation runs.

use actix_web::{HttpResponse, web};
use diesel::prelude::*;

use super::ListQuery;
use crate::auth::Staff;
use crate::db::schema::{datapass_differences, datapass_sync_runs};
use crate::db::{Page, offset};
use crate::error::AppError;
use crate::models::datapass::{DifferenceRow, SyncRun, kind_label_fr};
use crate::state::AppState;

route_table! {
    get "/datapass/ecarts" => differences,
}

/// `GET /datapass/ecarts`: newest first, `?q=D123` for one request, `?statut=webhook|sync`.
pub async fn differences(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let source = query
        .statut
        .clone()
        .filter(|s| matches!(s.as_str(), "webhook" | "sync"));
    let number = query.page();
    let q = query.q.trim().trim_start_matches(['D', 'd']).to_owned();
    let bad_search = !q.is_empty() && q.parse::<i64>().is_err();
    let (list, runs) = state
        .db(move |conn| {
            let filtered = || {
                let mut f = datapass_differences::table.into_boxed();
                if let Some(source) = &source {
                    f = f.filter(datapass_differences::source.eq(source.clone()));
                }
                if let Ok(id) = q.parse::<i64>() {
                    f = f.filter(datapass_differences::datapass_id.eq(id));
                }
                f
            };
            let per_page = 30;
            let total: i64 = filtered().count().get_result(conn)?;
            let number = crate::db::clamp_page(number, total, per_page);
            let items: Vec<DifferenceRow> = filtered()
                .order((
                    datapass_differences::detected_at.desc(),
                    datapass_differences::id.desc(),
                ))
                .limit(per_page)
                .offset(offset(number, per_page))
                .select(DifferenceRow::as_select())
                .load(conn)?;
            let runs: Vec<SyncRun> = datapass_sync_runs::table
                .order(datapass_sync_runs::started_at.desc())
                .limit(5)
                .select(SyncRun::as_select())
                .load(conn)?;
            Ok((Page::new(items, number, per_page, total), runs))
        })
        .await?;
    let labels: Vec<&str> = list.items.iter().map(|d| kind_label_fr(&d.kind)).collect();
    let mut context = page.context();
    context.insert("differences", &list);
    context.insert("labels", &labels);
    context.insert("runs", &runs);
    context.insert("q", &query.q);
    context.insert("statut", &query.statut.clone().unwrap_or_default());
    context.insert("bad_search", &bad_search);
    context.insert("sync_configured", &state.settings.datapass_api.is_some());
    state.render("instruction/differences.html", context)
}
