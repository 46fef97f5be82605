//! The application state shared by every handler, and the two ways handlers use it:
//! running diesel on a blocking thread, and rendering a template.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::{HttpResponse, web};

use crate::config::Settings;
use crate::db::{DbConnection, Pool};
use crate::error::AppError;
use crate::models::result_cache::ResultCache;

/// Everything a handler needs.
pub struct AppState {
    pub pool: Pool,
    pub tera: tera::Tera,
    pub settings: Settings,
    /// Set once the DSFR is unpacked and served at `/static/dsfr`.
    pub dsfr_ready: Arc<AtomicBool>,
    /// Where the unpacked DSFR lives.
    pub dsfr_dir: PathBuf,
    /// The e-mail sender (transport and wake-up bell).
    pub mailer: Arc<crate::mail::sender::Mailer>,
    /// The key encrypting session cookies.
    pub session_key: actix_web::cookie::Key,
    /// The Sirene client (unconfigured without `SIRENE_API_URL`).
    pub sirene: crate::clients::sirene::SireneClient,
    /// The HubEE client, when HubEE is configured.
    pub hubee: Option<crate::clients::hubee::HubeeClient>,
    /// Wakes the HubEE provisioning loop when a change is queued.
    pub hubee_wakeup: Arc<tokio::sync::Notify>,
    /// The formulaire QF client (activations need `FORM_API_KEY`).
    pub form: crate::clients::form::FormClient,
    /// Wakes the form activation loop when an activation is queued.
    pub form_wakeup: Arc<tokio::sync::Notify>,
    /// The ProConnect client, when ProConnect is configured.
    pub proconnect: Option<crate::auth::proconnect::ProConnect>,
    /// DataPass's pull API client, when credentials are configured.
    pub datapass: Option<Arc<crate::clients::datapass::DataPassClient>>,
    /// The staff dashboard last computed (see `models::dashboard::Cache`).
    pub dashboard: crate::models::dashboard::Cache,
    /// The list filters' choices last read (see `models::filter_choices`).
    pub filter_choices: crate::models::ChoicesCache,
    /// Searches' matches last computed (see `models::result_cache`).
    pub list_results: Arc<crate::models::result_cache::ResultCache>,
    /// Éditeurs' client collectivités last read (see `models::editeur_clients::page`).
    pub editeur_clients:
        Arc<crate::models::result_cache::ResultCache<crate::models::editeur_clients::Candidates>>,
    /// Whole list pages last computed (see [`PageCaches`]).
    pub pages: Arc<PageCaches>,
    /// The token list's month chart and counts last computed (see `models::tokens::summary`).
    pub token_summaries:
        Arc<crate::models::result_cache::ResultCache<crate::models::tokens::Summary>>,
    /// The staff search's hits last computed (see `models::result_cache`).
    pub search_hits: Arc<crate::models::result_cache::ResultCache<Vec<crate::models::search::Hit>>>,
    /// The SQLite writer that applies DataPass webhooks in batches (see `instruction::ingest`).
    pub ingest: crate::instruction::ingest::Ingest,
}

/// A kept list page and its rows' HTML, rendered by the first view that needs it: later views
/// of the same page at the same data version render only what surrounds the rows.
pub struct Kept<T> {
    /// The page's data.
    pub page: T,
    rows: std::sync::OnceLock<String>,
}

impl<T> Kept<T> {
    /// A page whose rows are not rendered yet.
    pub fn new(page: T) -> Kept<T> {
        Kept {
            page,
            rows: std::sync::OnceLock::new(),
        }
    }
}

/// Whole pages of the busiest lists, kept until the data changes (see
/// `models::result_cache`): every table they read moves the data version. Keyed by the
/// list's filters, page and day; a view of the same page at the same version reads nothing
/// but that version.
#[derive(Default)]
pub struct PageCaches {
    /// The instruction queue (`/instruction`).
    pub queue: ResultCache<Kept<crate::db::Page<crate::instruction::queue::QueueItem>>>,
    /// The token list (`/jetons`).
    pub tokens: ResultCache<Kept<crate::db::Page<crate::models::tokens::TokenLine>>>,
    /// The HubEE subscriptions (`/abonnements`).
    pub subscriptions: ResultCache<Kept<crate::routes::hubee::ListPage>>,
    /// An éditeur's clients in its space (`/editeur`).
    pub editeur_clients: ResultCache<Kept<crate::models::editeur_clients::ClientPage>>,
    /// An éditeur's client requests on its fiche (`/editeurs/{id}`).
    pub editeur_requests: ResultCache<crate::models::editeurs::ClientRequestPage>,
    /// An éditeur member's client requests on the home page (`/`).
    pub client_summaries: ResultCache<crate::db::Page<crate::models::requests::RequestSummary>>,
}

impl AppState {
    /// Runs `work` with a pooled connection on the blocking thread pool (never on a worker).
    pub async fn db<T, F>(&self, work: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await?
    }

    /// The rows of a kept page, rendered by `template` with the page as `name` (once per kept
    /// page: see [`Kept`]). The rows depend on the page's data only, never on who views it.
    pub fn kept_rows<'a, T: serde::Serialize>(
        &self,
        kept: &'a Kept<T>,
        template: &str,
        name: &str,
    ) -> Result<&'a str, AppError> {
        if let Some(rows) = kept.rows.get() {
            return Ok(rows);
        }
        let mut context = tera::Context::new();
        context.insert(name, &kept.page);
        let rows = self.tera.render(template, &context)?;
        Ok(kept.rows.get_or_init(|| rows))
    }

    /// Renders a page template with the layout's common variables.
    pub fn render(&self, name: &str, context: tera::Context) -> Result<HttpResponse, AppError> {
        self.render_status(actix_web::http::StatusCode::OK, name, context)
    }

    /// Renders a page template with a given status.
    pub fn render_status(
        &self,
        status: actix_web::http::StatusCode,
        name: &str,
        mut context: tera::Context,
    ) -> Result<HttpResponse, AppError> {
        context.insert("dsfr", &self.dsfr_ready.load(Ordering::Relaxed));
        context.insert("public_url", &self.settings.public_url);
        let body = self.tera.render(name, &context)?;
        Ok(HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body))
    }

    /// Renders an e-mail from `templates/email/<name>/`, with the public URL in its context.
    pub fn render_email(
        &self,
        name: &str,
        to: Vec<String>,
        cc: Vec<String>,
        mut context: tera::Context,
    ) -> Result<crate::mail::NewEmail, AppError> {
        context.insert("public_url", &self.settings.public_url);
        Ok(crate::mail::render(&self.tera, name, to, cc, &context)?)
    }
}

/// Loads every template embedded under `templates/`.
pub fn load_templates() -> anyhow::Result<tera::Tera> {
    let mut tera = tera::Tera::default();
    let mut sources = Vec::new();
    for name in crate::assets::Templates::iter() {
        if let Some(file) = crate::assets::Templates::get(&name) {
            let text = String::from_utf8(file.data.into_owned())
                .map_err(|_| anyhow::anyhow!("gabarit {name} : pas en UTF-8"))?;
            sources.push((name.to_string(), text));
        }
    }
    tera.add_raw_templates(sources)
        .map_err(|e| anyhow::anyhow!("gabarits : {}", crate::error::cause_chain(&e)))?;
    tera.register_filter("web_link", web_link_filter);
    // Replaces Tera's `date`, which shows stored (UTC) timestamps as they are.
    tera.register_filter("date", paris_date_filter);
    tera.autoescape_on(vec![".html"]);
    Ok(tera)
}

/// The URL to put in an `href` when `text` is an `https://` or `http://` address with a host;
/// anything else (`javascript:`, `data:`, relative text) is shown as text, never as a link.
pub fn web_link(text: &str) -> Option<String> {
    let url = url::Url::parse(text.trim()).ok()?;
    (matches!(url.scheme(), "https" | "http") && url.host_str().is_some_and(|h| !h.is_empty()))
        .then(|| url.to_string())
}

/// Tera filter `web_link`: the safe `href` for a value, or an empty string.
fn web_link_filter(
    value: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    Ok(tera::Value::String(
        value.as_str().and_then(web_link).unwrap_or_default(),
    ))
}

/// `2026-12-31` as `31/12/2026`, when `text` is exactly a real day in that form.
fn french_day(text: &str) -> Option<String> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (
        text[0..4].parse::<i32>().ok()?,
        text[5..7].parse::<u32>().ok()?,
        text[8..10].parse::<u32>().ok()?,
    );
    // `parse` accepts a sign: only digits make a day here.
    if !b
        .iter()
        .enumerate()
        .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
    {
        return None;
    }
    // An impossible day (2026-02-30) takes the general path and its error.
    chrono::NaiveDate::from_ymd_opt(year, month, day)?;
    Some(format!("{}/{}/{}", &text[8..10], &text[5..7], &text[0..4]))
}

/// Tera filter `date(format=…)`, every time shown in Europe/Paris: a timestamp (stored in UTC,
/// with or without an offset, or a Unix time) is converted before formatting; a date alone is
/// formatted as it is. A bad format is an error, never a panic.
fn paris_date_filter(
    value: &tera::Value,
    args: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    use chrono::format::{Item, StrftimeItems};
    use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};

    let format = match args.get("format") {
        Some(tera::Value::String(f)) => f.as_str(),
        Some(_) => return Err(tera::Error::msg("date : `format` doit être une chaîne")),
        None => "%Y-%m-%d",
    };
    // The lists' usual case, a day shown as « 31/12/2026 », without parsing the format.
    if format == "%d/%m/%Y"
        && let tera::Value::String(s) = value
        && let Some(day) = french_day(s)
    {
        return Ok(tera::Value::String(day));
    }
    let items: Vec<Item> = StrftimeItems::new(format).collect();
    if items.iter().any(|item| matches!(item, Item::Error)) {
        return Err(tera::Error::msg(format!(
            "date : format invalide {format:?}"
        )));
    }
    let paris = crate::domain::calendar::PARIS;
    let text = match value {
        tera::Value::Number(n) => {
            let at = n
                .as_i64()
                .and_then(|secs| DateTime::from_timestamp(secs, 0))
                .ok_or_else(|| tera::Error::msg(format!("date : horodatage invalide {n}")))?;
            at.with_timezone(&paris)
                .format_with_items(items.iter())
                .to_string()
        }
        tera::Value::String(s) => {
            if let Ok(at) = s.parse::<DateTime<FixedOffset>>() {
                at.with_timezone(&paris)
                    .format_with_items(items.iter())
                    .to_string()
            } else if let Ok(at) = s.parse::<NaiveDateTime>() {
                at.and_utc()
                    .with_timezone(&paris)
                    .format_with_items(items.iter())
                    .to_string()
            } else if let Ok(day) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                day.and_time(chrono::NaiveTime::MIN)
                    .format_with_items(items.iter())
                    .to_string()
            } else {
                return Err(tera::Error::msg(format!("date : valeur illisible {s:?}")));
            }
        }
        other => return Err(tera::Error::msg(format!("date : valeur illisible {other}"))),
    };
    Ok(tera::Value::String(text))
}

#[cfg(test)]
mod tests {
    use super::web_link;

    fn date(value: serde_json::Value, format: &str) -> tera::Result<tera::Value> {
        let mut args = std::collections::HashMap::new();
        args.insert("format".to_owned(), tera::Value::String(format.to_owned()));
        super::paris_date_filter(&value, &args)
    }

    #[test]
    fn times_are_shown_in_paris_and_dates_as_they_are() {
        let shown = |v: serde_json::Value| date(v, "%d/%m/%Y %H:%M").unwrap();
        // Summer (UTC+2): late evening in UTC is already the next day in Paris.
        assert_eq!(shown("2026-07-14T22:30:00".into()), "15/07/2026 00:30");
        assert_eq!(
            shown("2026-07-14T22:30:00.123456".into()),
            "15/07/2026 00:30"
        );
        // Winter (UTC+1).
        assert_eq!(shown("2026-01-10T08:00:00".into()), "10/01/2026 09:00");
        assert_eq!(
            shown("2026-01-10T08:00:00+00:00".into()),
            "10/01/2026 09:00"
        );
        assert_eq!(shown(1_768_032_000.into()), "10/01/2026 09:00");
        // A day is not a time: never shifted.
        assert_eq!(date("2026-07-14".into(), "%d/%m/%Y").unwrap(), "14/07/2026");
        assert!(date("2026-07-14".into(), "%Q").is_err());
        assert!(date("demain".into(), "%d/%m/%Y").is_err());
        assert!(date("2026-02-30".into(), "%d/%m/%Y").is_err());
        assert!(date("2026-+2-03".into(), "%d/%m/%Y").is_err());
        assert_eq!(date("2024-02-29".into(), "%d/%m/%Y").unwrap(), "29/02/2024");
    }

    #[test]
    fn only_web_addresses_become_links() {
        assert_eq!(
            web_link(" https://ville.fr/deliberation.pdf ").as_deref(),
            Some("https://ville.fr/deliberation.pdf")
        );
        assert!(web_link("http://ville.fr/d.pdf").is_some());
        for hostile in [
            "javascript:alert(document.cookie)",
            "JaVaScRiPt:alert(1)",
            " javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:x",
            "//evil.example/x",
            "voir pièce jointe",
            "file:///etc/passwd",
        ] {
            assert_eq!(web_link(hostile), None, "{hostile}");
        }
    }
}
