//! HTTP routes, one module per area; `configure` is the whole router.

pub mod assets;
pub mod health;
pub mod home;

use actix_web::web;

/// Every route of the application.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home::home))
        .route("/health", web::get().to(health::health))
        .route("/static/dsfr/{path:.*}", web::get().to(assets::dsfr))
        .route("/static/{path:.*}", web::get().to(assets::own))
        .default_service(web::to(assets::not_found));
}

/// Query string of paginated, searchable lists.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ListQuery {
    /// Free-text search.
    #[serde(default)]
    pub q: String,
    /// 1-based page number (anything unreadable means page 1).
    #[serde(default, deserialize_with = "lenient_page")]
    pub page: Option<i64>,
}

impl ListQuery {
    /// The page asked for, at least 1.
    pub fn page(&self) -> i64 {
        self.page.unwrap_or(1).max(1)
    }
}

fn lenient_page<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let raw: Option<String> = serde::Deserialize::deserialize(d)?;
    Ok(raw.and_then(|s| s.trim().parse().ok()))
}
