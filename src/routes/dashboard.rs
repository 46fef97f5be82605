//! `/tableau-de-bord` (staff): server-rendered SVG charts (no script): token expiries per
//! month for 18 months, requests received and decided per week, time to decision against the
//! 3-business-day target, clients per éditeur.

use std::fmt::Write as _;

use actix_web::{HttpResponse, web};

use crate::auth::Staff;
use crate::error::AppError;
use crate::models::dashboard::{self, TARGET_BUSINESS_DAYS};
use crate::models::tokens;
use crate::state::AppState;

route_table! {
    get "/tableau-de-bord" => page,
}

/// Escapes text for SVG/XML content and attributes.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A bar chart: one group per label, one bar per series (at most two), values on top.
/// `target` draws a dashed horizontal line at that value.
pub fn bar_chart(
    title: &str,
    labels: &[String],
    series: &[(&str, &str, Vec<i64>)],
    target: Option<(i64, &str)>,
) -> String {
    let (width, height, left, bottom, top) = (760.0_f64, 260.0_f64, 36.0, 48.0, 24.0);
    let max = series
        .iter()
        .flat_map(|s| s.2.iter().copied())
        .chain(target.map(|t| t.0))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let plot_h = height - bottom - top;
    let group_w = (width - left) / labels.len().max(1) as f64;
    let bar_w = (group_w * 0.8) / series.len().max(1) as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" aria-labelledby="t-{id}" class="chart"><title id="t-{id}">{title}</title>"#,
        id = xml(&title.replace(' ', "-")),
        title = xml(title)
    );
    let _ = write!(
        svg,
        r##"<line x1="{left}" y1="{y}" x2="{width}" y2="{y}" stroke="#666" stroke-width="1"/>"##,
        y = height - bottom
    );
    for (i, label) in labels.iter().enumerate() {
        let x0 = left + group_w * i as f64 + group_w * 0.1;
        for (s, (_, color, values)) in series.iter().enumerate() {
            let v = values.get(i).copied().unwrap_or(0);
            let h = plot_h * v as f64 / max;
            let x = x0 + bar_w * s as f64;
            let y = height - bottom - h;
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{color}" data-value="{v}"><title>{label} : {v}</title></rect>"#,
                w = (bar_w - 2.0).max(1.0),
                label = xml(label)
            );
            if v > 0 {
                let _ = write!(
                    svg,
                    r##"<text x="{tx:.1}" y="{ty:.1}" font-size="10" text-anchor="middle" fill="#161616">{v}</text>"##,
                    tx = x + bar_w / 2.0,
                    ty = y - 3.0
                );
            }
        }
        let _ = write!(
            svg,
            r##"<text x="{tx:.1}" y="{ty}" font-size="10" text-anchor="end" transform="rotate(-40 {tx:.1} {ty})" fill="#3a3a3a">{label}</text>"##,
            tx = x0 + group_w * 0.4,
            ty = height - bottom + 14.0,
            label = xml(label)
        );
    }
    if let Some((value, label)) = target {
        let y = height - bottom - plot_h * value as f64 / max;
        let _ = write!(
            svg,
            r##"<line x1="{left}" y1="{y:.1}" x2="{width}" y2="{y:.1}" stroke="#ce0500" stroke-width="2" stroke-dasharray="6 4" data-target="{value}"/><text x="{tx}" y="{ty:.1}" font-size="11" text-anchor="end" fill="#ce0500">{label}</text>"##,
            tx = width - 4.0,
            ty = y - 4.0,
            label = xml(label)
        );
    }
    // Legend.
    if series.len() > 1 {
        for (s, (name, color, _)) in series.iter().enumerate() {
            let x = left + 160.0 * s as f64;
            let _ = write!(
                svg,
                r##"<rect x="{x}" y="4" width="12" height="12" fill="{color}"/><text x="{tx}" y="14" font-size="11" fill="#161616">{name}</text>"##,
                tx = x + 16.0,
                name = xml(name)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Draws the dashboard's charts from its figures.
fn charts(expiries: &[(String, i64)], figures: &dashboard::Figures) -> dashboard::Charts {
    let expiry_chart = bar_chart(
        "Expirations de jetons par mois (18 mois)",
        &expiries.iter().map(|(m, _)| m.clone()).collect::<Vec<_>>(),
        &[(
            "Jetons",
            "#000091",
            expiries.iter().map(|(_, n)| *n).collect(),
        )],
        None,
    );
    let week_chart = bar_chart(
        "Demandes reçues et décidées par semaine",
        &figures
            .weeks
            .iter()
            .map(|w| w.0.format("%d/%m").to_string())
            .collect::<Vec<_>>(),
        &[
            (
                "Reçues",
                "#000091",
                figures.weeks.iter().map(|w| w.1).collect(),
            ),
            (
                "Décidées",
                "#18753c",
                figures.weeks.iter().map(|w| w.2).collect(),
            ),
        ],
        None,
    );
    let delay_chart = bar_chart(
        "Délai de décision en jours ouvrés",
        &["Médiane".to_owned(), "90e centile".to_owned()],
        &[(
            "Jours ouvrés",
            "#6a6af4",
            vec![
                figures.decision_days_median.unwrap_or(0),
                figures.decision_days_p90.unwrap_or(0),
            ],
        )],
        Some((TARGET_BUSINESS_DAYS, "objectif : 3 jours ouvrés")),
    );
    let editeur_chart = bar_chart(
        "Clients et formulaires en ligne par éditeur",
        &figures
            .editeurs
            .iter()
            .map(|e| e.0.clone())
            .collect::<Vec<_>>(),
        &[
            (
                "Clients",
                "#000091",
                figures.editeurs.iter().map(|e| e.1).collect(),
            ),
            (
                "Formulaire en ligne",
                "#18753c",
                figures.editeurs.iter().map(|e| e.2).collect(),
            ),
        ],
        None,
    );
    dashboard::Charts {
        expiry: expiry_chart,
        week: week_chart,
        delay: delay_chart,
        editeur: editeur_chart,
    }
}

/// `GET /tableau-de-bord`.
pub async fn page(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
) -> Result<HttpResponse, AppError> {
    let today = crate::domain::calendar::paris_date(page.now);
    let snapshot = {
        let mut cached = state.dashboard.lock().await;
        match cached.as_ref() {
            Some(s)
                if s.today == today
                    && s.computed.elapsed().as_secs() < dashboard::CACHE_SECONDS =>
            {
                s.clone()
            }
            _ => {
                let computed_at = page.now;
                let (expiries, figures) = state
                    .db(move |conn| {
                        Ok((
                            tokens::expiries_by_month(conn, today)?,
                            dashboard::figures(conn, today)?,
                        ))
                    })
                    .await?;
                let charts = charts(&expiries, &figures);
                let fresh = std::sync::Arc::new(dashboard::Snapshot {
                    today,
                    computed_at,
                    computed: std::time::Instant::now(),
                    expiries,
                    figures,
                    charts,
                });
                *cached = Some(fresh.clone());
                fresh
            }
        }
    };
    let mut context = page.context();
    context.insert("expiry_chart", &snapshot.charts.expiry);
    context.insert("week_chart", &snapshot.charts.week);
    context.insert("delay_chart", &snapshot.charts.delay);
    context.insert("editeur_chart", &snapshot.charts.editeur);
    context.insert("figures", &snapshot.figures);
    context.insert("computed_at", &snapshot.computed_at);
    context.insert("target", &TARGET_BUSINESS_DAYS);
    state.render("dashboard.html", context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_labels_and_scale_bars() {
        let svg = bar_chart(
            "Essai",
            &["<script>".to_owned(), "b".to_owned()],
            &[("S", "#000", vec![2, 4])],
            Some((3, "objectif")),
        );
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains("data-value=\"4\""));
        assert!(svg.contains("data-target=\"3\""));
        assert!(!svg.contains("style="));
    }
}
