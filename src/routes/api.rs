//! The éditeur API, versioned under `/api/v1/`: an éditeur's clients as JSON (keyset cursor),
//! CSV and an iCalendar of token expiries, for its own software. Authenticated by
//! `Authorization: Bearer <key>` (keys in `models::api_keys`), rate-limited per key (429),
//! every error as `{"error": <code>, "message": <français>}`. The OpenAPI 3 document is built
//! from this module's route table (`openapi.json`) and rendered for humans at
//! `/api/documentation`.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::NaiveDate;
use serde_json::{Value, json};

use super::shared::csv;
use crate::auth::PageCtx;
use crate::domain::request_state::RequestState;
use crate::error::AppError;
use crate::models::api_keys::{self, ApiKey};
use crate::models::editeur_clients::{self, ClientFilter, ClientRow};
use crate::state::AppState;

route_table! {
    get "/api/v1/clients" => clients,
    get "/api/v1/clients.csv" => clients_csv,
    get "/api/v1/clients/{siret}" => client,
    get "/api/v1/echeances.ics" => echeances,
    get "/api/v1/openapi.json" => openapi_json,
    get "/api/documentation" => documentation,
}

/// Default and largest page size of `GET /api/v1/clients`.
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;
/// Days before a token expiry the calendar's reminder fires.
pub const ALARM_DAYS_BEFORE: i64 = 90;
/// Length of the rate-limit window.
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// An API error: status, machine code and French message.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.code)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"api-v1\""));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response.json(json!({"error": self.code, "message": self.message}))
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        tracing::error!(error = %crate::error::cause_chain(&e), "API : erreur interne");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "erreur_interne",
            "Une erreur inattendue est survenue ; elle a été journalisée. Réessayez plus tard.",
        )
    }
}

/// The éditeur a request is made for: its key and its name.
struct Caller {
    key: ApiKey,
    editeur_name: String,
}

/// Requests counted per key in the current window: (window start, count).
fn rate_windows() -> &'static Mutex<HashMap<String, (Instant, u32)>> {
    static WINDOWS: OnceLock<Mutex<HashMap<String, (Instant, u32)>>> = OnceLock::new();
    WINDOWS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Counts one request of `key_id`; the seconds to wait when over `limit` per minute.
fn rate_limited(key_id: &str, limit: u32, now: Instant) -> Option<u64> {
    let mut windows = rate_windows()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if windows.len() > 10_000 {
        windows.retain(|_, (start, _)| now.duration_since(*start) < RATE_WINDOW);
    }
    let entry = windows.entry(key_id.to_owned()).or_insert((now, 0));
    if now.duration_since(entry.0) >= RATE_WINDOW {
        *entry = (now, 0);
    }
    if entry.1 >= limit {
        let elapsed = now.duration_since(entry.0);
        return Some(RATE_WINDOW.saturating_sub(elapsed).as_secs().max(1));
    }
    entry.1 += 1;
    None
}

/// Checks the `Authorization: Bearer` key, records its use and counts it against its limit.
async fn authenticate(req: &HttpRequest, state: &AppState) -> Result<Caller, ApiError> {
    let header_value = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    if header_value.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "cle_absente",
            "Clé d'API absente : envoyez l'en-tête « Authorization: Bearer <clé> ».",
        ));
    }
    let key = match header_value.split_once(' ') {
        Some((scheme, key)) if scheme.eq_ignore_ascii_case("bearer") => key.trim().to_owned(),
        _ => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "cle_invalide",
                "En-tête Authorization illisible : attendu « Bearer <clé> ».",
            ));
        }
    };
    let now = crate::db::now();
    let found = if key.starts_with(api_keys::KEY_PREFIX) && key.len() <= 200 {
        state
            .db(move |conn| Ok(api_keys::authenticate(conn, &key, now)?))
            .await?
    } else {
        None
    };
    let Some((key, editeur_name)) = found else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "cle_invalide",
            "Clé d'API inconnue ou révoquée.",
        ));
    };
    if let Some(wait) = rate_limited(&key.id, state.settings.api_rate_limit, Instant::now()) {
        let mut error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "trop_de_requetes",
            format!(
                "Trop de requêtes avec cette clé (au plus {} par minute) : réessayez dans {wait} secondes.",
                state.settings.api_rate_limit
            ),
        );
        error.retry_after = Some(wait);
        return Err(error);
    }
    Ok(Caller { key, editeur_name })
}

/// Query string of the client list, the CSV and the calendar.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ClientsQuery {
    #[serde(default)]
    expire_avant: Option<String>,
    #[serde(default)]
    statut: Option<String>,
    #[serde(default)]
    curseur: Option<String>,
    #[serde(default)]
    limite: Option<String>,
}

impl ClientsQuery {
    fn filter(&self) -> Result<ClientFilter, ApiError> {
        let expires_before = match self.expire_avant.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
                ApiError::bad_request(
                    "date_invalide",
                    format!("expire_avant : « {text} » n'est pas une date AAAA-MM-JJ."),
                )
            })?),
        };
        let request_state = match self.statut.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(text.parse::<RequestState>().map_err(|_| {
                ApiError::bad_request(
                    "statut_invalide",
                    format!(
                        "statut : « {text} » n'est pas un état de demande ; valeurs possibles : {}.",
                        RequestState::ALL.map(RequestState::as_str).join(", ")
                    ),
                )
            })?),
        };
        Ok(ClientFilter {
            expires_before,
            request_state,
            ..ClientFilter::default()
        })
    }

    fn limit(&self) -> Result<i64, ApiError> {
        match self.limite.as_deref().map(str::trim) {
            None | Some("") => Ok(DEFAULT_LIMIT),
            Some(text) => text
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "limite_invalide",
                        format!("limite : « {text} » n'est pas un nombre entre 1 et {MAX_LIMIT}."),
                    )
                }),
        }
    }

    fn cursor(&self) -> Result<Option<String>, ApiError> {
        match self.curseur.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) if text.len() == 14 && text.bytes().all(|b| b.is_ascii_digit()) => {
                Ok(Some(text.to_owned()))
            }
            Some(text) => Err(ApiError::bad_request(
                "curseur_invalide",
                format!(
                    "curseur : « {text} » n'est pas un curseur rendu par l'API (curseur_suivant)."
                ),
            )),
        }
    }
}

fn today() -> NaiveDate {
    crate::domain::calendar::paris_date(crate::db::now())
}

/// `GET /api/v1/clients`: one page of the éditeur's clients.
pub async fn clients(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ClientsQuery>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&req, &state).await?;
    let filter = query.filter()?;
    let limit = query.limit()?;
    let cursor = query.cursor()?;
    let base = state.settings.form_base_url.clone();
    let editeur_id = caller.key.editeur_id.clone();
    let today = today();
    let cache = state.editeur_clients.clone();
    let page = state
        .db(move |conn| {
            Ok(editeur_clients::page(
                conn,
                &editeur_id,
                &filter,
                cursor.as_deref(),
                limit,
                today,
                &base,
                &cache,
            )?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "editeur": caller.editeur_name,
        "clients": page.items,
        "curseur_suivant": page.next_cursor,
        "limite": limit,
    })))
}

/// `GET /api/v1/clients/{siret}`: one client of the éditeur (404 for anyone else's).
pub async fn client(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&req, &state).await?;
    let siret = path.into_inner();
    let base = state.settings.form_base_url.clone();
    let editeur_id = caller.key.editeur_id.clone();
    let today = today();
    let wanted = siret.clone();
    let found = state
        .db(move |conn| {
            Ok(editeur_clients::find(
                conn,
                &editeur_id,
                &wanted,
                today,
                &base,
            )?)
        })
        .await?;
    match found {
        Some(row) => Ok(HttpResponse::Ok().json(row)),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "client_inconnu",
            format!("Aucune collectivité cliente de votre éditeur n'a le SIRET « {siret} »."),
        )),
    }
}

async fn all_clients(
    req: &HttpRequest,
    state: &AppState,
    query: &ClientsQuery,
) -> Result<(Caller, Vec<ClientRow>), ApiError> {
    let caller = authenticate(req, state).await?;
    let filter = query.filter()?;
    let base = state.settings.form_base_url.clone();
    let editeur_id = caller.key.editeur_id.clone();
    let today = today();
    let cache = state.editeur_clients.clone();
    let rows = state
        .db(move |conn| {
            Ok(editeur_clients::all(
                conn,
                &editeur_id,
                &filter,
                today,
                &base,
                &cache,
            )?)
        })
        .await?;
    Ok((caller, rows))
}

/// `GET /api/v1/clients.csv`: every client (same filters as the list), as a spreadsheet.
pub async fn clients_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ClientsQuery>,
) -> Result<HttpResponse, ApiError> {
    let (_, rows) = all_clients(&req, &state, &query).await?;
    let body = csv::clients_to_csv(&rows)
        .map_err(|e| ApiError::from(AppError::Internal(anyhow::anyhow!("CSV : {e}"))))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"clients.csv\"",
        ))
        .body(body))
}

/// Escapes an iCalendar TEXT value (RFC 5545 §3.3.11).
fn ics_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends a content line folded at 75 octets (RFC 5545 §3.1), CRLF-terminated.
fn ics_line(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
}

/// The calendar of the clients' token expiries: one all-day `VEVENT` per expiry, with a
/// display alarm [`ALARM_DAYS_BEFORE`] days before.
pub fn expiries_calendar(
    editeur_name: &str,
    rows: &[ClientRow],
    stamp: chrono::NaiveDateTime,
    domain: &str,
) -> String {
    let mut out = String::new();
    let stamp = stamp.format("%Y%m%dT%H%M%SZ").to_string();
    for line in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//API Particulier//qf-backoffice//FR",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ] {
        ics_line(&mut out, line);
    }
    ics_line(
        &mut out,
        &format!(
            "X-WR-CALNAME:{}",
            ics_text(&format!(
                "Échéances des jetons API Particulier – {editeur_name}"
            ))
        ),
    );
    for row in rows {
        let Some(expires_on) = row.token_expires_on else {
            continue;
        };
        if row.token_status == Some(crate::domain::token::TokenStatus::Revoked.as_str()) {
            continue;
        }
        let day = expires_on.format("%Y%m%d").to_string();
        let next = expires_on
            .succ_opt()
            .unwrap_or(expires_on)
            .format("%Y%m%d")
            .to_string();
        ics_line(&mut out, "BEGIN:VEVENT");
        ics_line(
            &mut out,
            &format!("UID:echeance-{}-{day}@{domain}", row.siret),
        );
        ics_line(&mut out, &format!("DTSTAMP:{stamp}"));
        ics_line(&mut out, &format!("DTSTART;VALUE=DATE:{day}"));
        ics_line(&mut out, &format!("DTEND;VALUE=DATE:{next}"));
        ics_line(
            &mut out,
            &format!(
                "SUMMARY:{}",
                ics_text(&format!(
                    "Expiration du jeton API Particulier – {} ({})",
                    row.name, row.siret
                ))
            ),
        );
        ics_line(
            &mut out,
            &format!(
                "DESCRIPTION:{}",
                ics_text(&format!(
                    "Le jeton API Particulier de {} expire ce jour. Sans prolongation, le formulaire QF de la collectivité ne peut plus calculer le quotient familial. La prolongation s'ouvre 90 jours avant.\nFormulaire : {}",
                    row.name, row.form_url
                ))
            ),
        );
        ics_line(&mut out, &format!("URL:{}", row.form_url));
        ics_line(&mut out, "TRANSP:TRANSPARENT");
        ics_line(&mut out, "BEGIN:VALARM");
        ics_line(&mut out, "ACTION:DISPLAY");
        ics_line(&mut out, &format!("TRIGGER:-P{ALARM_DAYS_BEFORE}D"));
        ics_line(
            &mut out,
            &format!(
                "DESCRIPTION:{}",
                ics_text(&format!(
                    "Le jeton de {} expire dans {ALARM_DAYS_BEFORE} jours : la prolongation est ouverte.",
                    row.name
                ))
            ),
        );
        ics_line(&mut out, "END:VALARM");
        ics_line(&mut out, "END:VEVENT");
    }
    ics_line(&mut out, "END:VCALENDAR");
    out
}

/// `GET /api/v1/echeances.ics`: the clients' token expiries as a calendar to subscribe to.
pub async fn echeances(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ClientsQuery>,
) -> Result<HttpResponse, ApiError> {
    let (caller, rows) = all_clients(&req, &state, &query).await?;
    let domain = url::Url::parse(&state.settings.public_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "qf-backoffice".to_owned());
    let body = expiries_calendar(&caller.editeur_name, &rows, crate::db::now(), &domain);
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"echeances.ics\"",
        ))
        .body(body))
}

fn error_response_doc(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Erreur"}}}
    })
}

fn filter_params() -> Vec<Value> {
    vec![
        json!({"name": "expire_avant", "in": "query", "required": false,
               "description": "Seulement les clients dont le jeton expire avant ce jour (AAAA-MM-JJ).",
               "schema": {"type": "string", "format": "date"}}),
        json!({"name": "statut", "in": "query", "required": false,
               "description": "Seulement les clients dont la dernière demande est dans cet état.",
               "schema": {"type": "string", "enum": RequestState::ALL.map(RequestState::as_str)}}),
    ]
}

fn protected_errors(mut responses: serde_json::Map<String, Value>) -> Value {
    responses.insert(
        "400".into(),
        error_response_doc("Paramètre invalide (date_invalide, statut_invalide, limite_invalide, curseur_invalide)."),
    );
    responses.insert(
        "401".into(),
        error_response_doc("Clé absente (cle_absente), inconnue ou révoquée (cle_invalide)."),
    );
    responses.insert(
        "429".into(),
        error_response_doc(
            "Trop de requêtes avec cette clé (trop_de_requetes) ; voir Retry-After.",
        ),
    );
    Value::Object(responses)
}

/// The OpenAPI operation of a route of this module, if it documents one.
pub fn operation(method: &str, path: &str) -> Option<Value> {
    let secured = json!([{"cle": []}]);
    Some(match (method, path) {
        ("get", "/api/v1/clients") => {
            let mut params = filter_params();
            params.push(json!({"name": "curseur", "in": "query", "required": false,
                "description": "Le curseur_suivant de la page précédente.",
                "schema": {"type": "string"}}));
            params.push(json!({"name": "limite", "in": "query", "required": false,
                "description": format!("Clients par page (1 à {MAX_LIMIT}, {DEFAULT_LIMIT} par défaut)."),
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}}));
            let mut responses = serde_json::Map::new();
            responses.insert("200".into(), json!({"description": "Une page de clients, par SIRET croissant.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PageClients"}}}}));
            json!({"operationId": "listerClients", "summary": "Lister ses collectivités clientes",
                "description": "Les collectivités clientes de l'éditeur de la clé, par SIRET croissant. La pagination par curseur est stable : une collectivité ajoutée ne décale pas les pages.",
                "security": secured, "parameters": params, "responses": protected_errors(responses)})
        }
        ("get", "/api/v1/clients.csv") => {
            let mut responses = serde_json::Map::new();
            responses.insert("200".into(), json!({"description": "Tous les clients, en CSV (UTF-8 avec BOM, séparateur « ; », en-têtes en français).",
                "content": {"text/csv": {"schema": {"type": "string"}}}}));
            json!({"operationId": "exporterClients", "summary": "Exporter ses clients en CSV",
                "security": secured, "parameters": filter_params(), "responses": protected_errors(responses)})
        }
        ("get", "/api/v1/clients/{siret}") => {
            let mut responses = serde_json::Map::new();
            responses.insert("200".into(), json!({"description": "Le client.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Client"}}}}));
            responses.insert(
                "404".into(),
                error_response_doc("Aucun client de l'éditeur n'a ce SIRET (client_inconnu)."),
            );
            json!({"operationId": "lireClient", "summary": "Lire un client par son SIRET",
                "security": secured,
                "parameters": [{"name": "siret", "in": "path", "required": true,
                    "description": "SIRET de la collectivité (14 chiffres).",
                    "schema": {"type": "string", "pattern": "^[0-9]{14}$"}}],
                "responses": protected_errors(responses)})
        }
        ("get", "/api/v1/echeances.ics") => {
            let mut responses = serde_json::Map::new();
            responses.insert("200".into(), json!({"description": format!("Calendrier iCalendar (RFC 5545) : un événement par expiration de jeton, rappel {ALARM_DAYS_BEFORE} jours avant."),
                "content": {"text/calendar": {"schema": {"type": "string"}}}}));
            json!({"operationId": "calendrierEcheances", "summary": "Calendrier des expirations de jetons",
                "security": secured, "parameters": filter_params(), "responses": protected_errors(responses)})
        }
        ("get", "/api/v1/openapi.json") => json!({
            "operationId": "documentOpenApi", "summary": "Ce document OpenAPI",
            "security": [],
            "responses": {"200": {"description": "Le document OpenAPI 3.", "content": {"application/json": {"schema": {"type": "object"}}}}}
        }),
        _ => return None,
    })
}

/// The OpenAPI 3 document of every `/api/v1` route of the router.
pub fn openapi_document(public_url: &str) -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path) in ROUTES {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        let operation = operation(method, path).unwrap_or_else(|| {
            json!({"summary": "Non documentée", "responses": {"200": {"description": "Succès."}}})
        });
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        if let Some(map) = entry.as_object_mut() {
            map.insert(method.to_string(), operation);
        }
    }
    let nullable_string = json!({"type": ["string", "null"]});
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "API éditeurs du back-office QF",
            "version": "1.0.0",
            "description": "Pour le logiciel d'un éditeur : ses collectivités clientes du formulaire QF, leurs jetons API Particulier, leurs abonnements HubEE et les URL de leurs formulaires. Clés créées dans l'espace éditeur (/editeur), envoyées en « Authorization: Bearer <clé> ». Erreurs : {\"error\": <code>, \"message\": <message en français>}."
        },
        "servers": [{"url": public_url.trim_end_matches('/')}],
        "paths": paths,
        "components": {
            "securitySchemes": {"cle": {"type": "http", "scheme": "bearer", "description": "Clé d'API de l'éditeur (qfb_…)."}},
            "schemas": {
                "Erreur": {"type": "object", "required": ["error", "message"], "properties": {
                    "error": {"type": "string", "description": "Code de l'erreur."},
                    "message": {"type": "string", "description": "Message en français."}}},
                "Client": {"type": "object", "required": ["siret", "name", "form_url"], "properties": {
                    "siret": {"type": "string"},
                    "name": {"type": "string"},
                    "request_state": nullable_string.clone(),
                    "request_state_label": nullable_string.clone(),
                    "datapass_id": {"type": ["string", "null"], "description": "Numéro DataPass (D…)."},
                    "token_expires_on": {"type": ["string", "null"], "format": "date"},
                    "token_days_left": {"type": ["integer", "null"]},
                    "token_status": {"type": ["string", "null"], "enum": crate::domain::token::TokenStatus::ALL.iter().map(|s| Some(s.as_str())).chain([None]).collect::<Vec<_>>()},
                    "prolongation_open": {"type": "boolean"},
                    "hubee_status": {"type": ["string", "null"], "enum": ["INACTIF", "ACTIF", "SUSPENDU", "REFUSE", null]},
                    "hubee_status_label": nullable_string.clone(),
                    "hubee_access_mode": {"type": ["string", "null"], "enum": ["PORTAIL", "API", null]},
                    "form_url": {"type": "string", "format": "uri"},
                    "form_live": {"type": ["boolean", "null"], "description": "Formulaire en ligne (true), demandé mais pas encore en ligne (false), jamais demandé par le back-office (null)."}}},
                "PageClients": {"type": "object", "required": ["clients", "curseur_suivant", "limite"], "properties": {
                    "editeur": {"type": "string"},
                    "clients": {"type": "array", "items": {"$ref": "#/components/schemas/Client"}},
                    "curseur_suivant": {"type": ["string", "null"]},
                    "limite": {"type": "integer"}}}
            }
        }
    })
}

/// `GET /api/v1/openapi.json` (public).
pub async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(openapi_document(&state.settings.public_url))
}

/// One operation as shown on the documentation page.
#[derive(serde::Serialize)]
struct DocOperation {
    method: String,
    path: String,
    summary: String,
    description: String,
    secured: bool,
    parameters: Vec<Value>,
    responses: Vec<(String, String, String)>,
}

/// `GET /api/documentation`: the OpenAPI document rendered on the server for humans.
pub async fn documentation(
    state: web::Data<AppState>,
    page: PageCtx,
) -> Result<HttpResponse, AppError> {
    let document = openapi_document(&state.settings.public_url);
    let mut operations = Vec::new();
    if let Some(paths) = document["paths"].as_object() {
        for (path, methods) in paths {
            let Some(methods) = methods.as_object() else {
                continue;
            };
            for (method, op) in methods {
                let responses = op["responses"]
                    .as_object()
                    .map(|r| {
                        r.iter()
                            .map(|(code, resp)| {
                                let types = resp["content"]
                                    .as_object()
                                    .map(|c| c.keys().cloned().collect::<Vec<_>>().join(", "))
                                    .unwrap_or_default();
                                (
                                    code.clone(),
                                    resp["description"].as_str().unwrap_or_default().to_owned(),
                                    types,
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                operations.push(DocOperation {
                    method: method.to_uppercase(),
                    path: path.clone(),
                    summary: op["summary"].as_str().unwrap_or_default().to_owned(),
                    description: op["description"].as_str().unwrap_or_default().to_owned(),
                    secured: op["security"].as_array().is_some_and(|s| !s.is_empty()),
                    parameters: op["parameters"].as_array().cloned().unwrap_or_default(),
                    responses,
                });
            }
        }
    }
    let mut fields = Vec::new();
    if let Some(props) = document["components"]["schemas"]["Client"]["properties"].as_object() {
        for (name, schema) in props {
            let kind = match &schema["type"] {
                Value::String(s) => s.clone(),
                Value::Array(a) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" ou "),
                _ => String::new(),
            };
            fields.push((
                name.clone(),
                kind,
                schema["description"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            ));
        }
    }
    let mut context = page.context();
    context.insert("info", &document["info"]);
    context.insert("server", &document["servers"][0]["url"]);
    context.insert("operations", &operations);
    context.insert("client_fields", &fields);
    state.render("api/documentation.html", context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_api_route_is_documented() {
        for (method, path) in ROUTES {
            if path.starts_with("/api/v1/") {
                assert!(operation(method, path).is_some(), "{method} {path}");
            }
        }
    }

    #[test]
    fn calendar_lines_are_folded_at_75_octets() {
        let mut out = String::new();
        ics_line(&mut out, &format!("SUMMARY:{}", "é".repeat(100)));
        for line in out.split("\r\n") {
            assert!(line.len() <= 75, "{line}");
        }
        assert_eq!(
            out.replace("\r\n ", "").trim_end(),
            format!("SUMMARY:{}", "é".repeat(100))
        );
        assert_eq!(ics_text("a;b,c\\d\ne"), "a\\;b\\,c\\\\d\\ne");
    }

    #[test]
    fn the_rate_limit_counts_per_key_and_window() {
        let t0 = Instant::now();
        assert_eq!(rate_limited("unit-key", 2, t0), None);
        assert_eq!(rate_limited("unit-key", 2, t0), None);
        assert!(rate_limited("unit-key", 2, t0).is_some());
        assert_eq!(rate_limited("unit-key-2", 2, t0), None);
        assert_eq!(rate_limited("unit-key", 2, t0 + RATE_WINDOW), None);
    }
}
