//! Stand-ins for HubEE and the formulaire QF: real HTTP servers on loopback (wiremock with
//! stateful responders), strict where the real services are strict.
//!
//! - HubEE: the token needs Basic auth and `grant_type=client_credentials&scope=ADMIN`; the API
//!   needs the bearer token; a subscription for an organization that does not exist is
//!   refused; a duplicate organization or subscription is a 400 "already exists"; lists are
//!   paged (`page_size` per page, `?page=n`).
//! - Formulaire QF: `POST /api/collectivites` needs the bearer key and a valid body (201, 409
//!   for a known SIRET, 422 for an invalid one or one listed in `refuse`); the public
//!   `GET /api/collectivites/{code_cog}` answers 200 only for active collectivités.
//! - Both: the first `failures` calls answer 503.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const HUBEE_CLIENT_ID: &str = "client-qf";
pub const HUBEE_CLIENT_SECRET: &str = "secret-hubee";
pub const HUBEE_TOKEN: &str = "jeton-admin-hubee";
pub const FORM_KEY: &str = "cle-privee-formulaire";

/// What the HubEE stand-in holds.
#[derive(Default, Debug)]
pub struct HubeeData {
    /// Calls left to answer 503.
    pub failures: u32,
    pub organizations: BTreeMap<String, Value>,
    pub subscriptions: Vec<Value>,
    /// Items per page of a list.
    pub page_size: usize,
    /// Every request received: (method, path and query).
    pub calls: Vec<(String, String)>,
}

pub struct HubeeStandIn {
    pub server: MockServer,
    pub data: Arc<Mutex<HubeeData>>,
}

impl HubeeStandIn {
    pub async fn start(failures: u32) -> HubeeStandIn {
        let server = MockServer::start().await;
        let data = Arc::new(Mutex::new(HubeeData {
            failures,
            page_size: 2,
            ..HubeeData::default()
        }));
        Mock::given(wiremock::matchers::any())
            .respond_with(HubeeResponder(data.clone()))
            .mount(&server)
            .await;
        HubeeStandIn { server, data }
    }

    /// The variables that point the back office at this stand-in.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("HUBEE_AUTH_URL", self.server.uri()),
            ("HUBEE_API_URL", self.server.uri()),
            ("HUBEE_CLIENT_ID", HUBEE_CLIENT_ID.to_owned()),
            ("HUBEE_CLIENT_SECRET", HUBEE_CLIENT_SECRET.to_owned()),
            ("HUBEE_RETRY_DELAY", "0.2".to_owned()),
            ("HUBEE_TIMEOUT", "2".to_owned()),
            ("HUBEE_SYNC_INTERVAL", "1h".to_owned()),
        ]
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut HubeeData) -> T) -> T {
        f(&mut self.data.lock().expect("stand-in lock"))
    }
}

struct HubeeResponder(Arc<Mutex<HubeeData>>);

fn error(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"errors": [{"message": message}]}))
}

impl Respond for HubeeResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut data = self.0.lock().expect("stand-in lock");
        let target = match request.url.query() {
            Some(q) => format!("{}?{q}", request.url.path()),
            None => request.url.path().to_owned(),
        };
        data.calls.push((request.method.to_string(), target));
        if data.failures > 0 {
            data.failures -= 1;
            return ResponseTemplate::new(503).set_body_string("maintenance");
        }
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let path = request.url.path().to_owned();
        let method = request.method.as_str().to_owned();
        if path == "/oauth2/token" {
            use base64::Engine as _;
            let basic = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{HUBEE_CLIENT_ID}:{HUBEE_CLIENT_SECRET}"))
            );
            if method != "POST"
                || header("authorization") != basic
                || request.body != b"grant_type=client_credentials&scope=ADMIN"
            {
                return error(401, "invalid_client");
            }
            return ResponseTemplate::new(200).set_body_json(json!({
                "access_token": HUBEE_TOKEN, "token_type": "Bearer", "expires_in": 3600, "scope": "ADMIN"
            }));
        }
        if header("authorization") != format!("Bearer {HUBEE_TOKEN}") {
            return error(401, "unauthorized");
        }
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        match (method.as_str(), path.as_str()) {
            ("GET", p) if p.starts_with("/referential/v1/organizations/") => {
                let id = &p["/referential/v1/organizations/".len()..];
                match data.organizations.get(id) {
                    Some(org) => ResponseTemplate::new(200).set_body_json(org),
                    None => error(404, "Organization not found"),
                }
            }
            ("POST", "/referential/v1/organizations") => {
                let (Some(siret), Some(cog)) =
                    (text(&body, "companyRegister"), text(&body, "branchCode"))
                else {
                    return error(400, "companyRegister and branchCode are required");
                };
                let valid = text(&body, "type").as_deref() == Some("SI")
                    && siret.len() == 14
                    && text(&body, "email").is_some_and(|e| e.contains('@'))
                    && text(&body, "name").is_some_and(|n| !n.is_empty())
                    && text(&body, "country").as_deref() == Some("France")
                    && text(&body, "territory").as_deref() == Some(cog.as_str())
                    && text(&body, "status").as_deref() == Some("Actif");
                if !valid {
                    return error(400, "invalid organization");
                }
                let id = format!("SI-{siret}-{cog}");
                if data.organizations.contains_key(&id) {
                    return error(400, "Organization already exists");
                }
                let mut org = body.clone();
                org["id"] = json!(id);
                data.organizations.insert(id, org.clone());
                ResponseTemplate::new(201).set_body_json(org)
            }
            ("POST", "/referential/v1/subscriptions") => {
                let subscriber = body.get("subscriber").cloned().unwrap_or(Value::Null);
                let siret = text(&subscriber, "companyRegister").unwrap_or_default();
                let cog = text(&subscriber, "branchCode").unwrap_or_default();
                let organization = format!("SI-{siret}-{cog}");
                if !data.organizations.contains_key(&organization) {
                    return error(400, &format!("Organization {organization} not found"));
                }
                let valid = body.get("datapassId").is_some_and(Value::is_i64)
                    && text(&body, "processCode").as_deref() == Some("FormulaireQF")
                    && text(&body, "status").as_deref() == Some("Inactif")
                    && text(&subscriber, "type").as_deref() == Some("SI")
                    && body
                        .get("localAdministrator")
                        .and_then(|a| text(a, "email"))
                        .is_some()
                    && text(&body, "notificationFrequency").is_some();
                if !valid {
                    return error(400, "invalid subscription");
                }
                let exists = data.subscriptions.iter().any(|s| {
                    s["subscriber"]["companyRegister"] == json!(siret)
                        && s["subscriber"]["branchCode"] == json!(cog)
                        && s["processCode"] == json!("FormulaireQF")
                });
                if exists {
                    return error(400, "Subscription already exists");
                }
                let mut created = body.clone();
                created["id"] = json!(format!("hubee-sub-{}", data.subscriptions.len() + 1));
                data.subscriptions.push(created.clone());
                ResponseTemplate::new(201).set_body_json(created)
            }
            ("GET", "/referential/v1/subscriptions") => {
                let query: BTreeMap<String, String> =
                    request.url.query_pairs().into_owned().collect();
                let matching: Vec<Value> = data
                    .subscriptions
                    .iter()
                    .filter(|s| {
                        query
                            .get("companyRegister")
                            .is_none_or(|c| s["subscriber"]["companyRegister"] == json!(c))
                            && query
                                .get("processCode")
                                .is_none_or(|p| s["processCode"] == json!(p))
                    })
                    .cloned()
                    .collect();
                let size = data.page_size.max(1);
                let page: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(0);
                let total_pages = matching.len().div_ceil(size).max(1);
                let content: Vec<Value> =
                    matching.into_iter().skip(page * size).take(size).collect();
                ResponseTemplate::new(200).set_body_json(json!({
                    "content": content,
                    "number": page,
                    "size": size,
                    "totalPages": total_pages,
                    "last": page + 1 >= total_pages,
                }))
            }
            ("GET", p) if p.starts_with("/referential/v1/subscriptions/") => {
                let id = &p["/referential/v1/subscriptions/".len()..];
                match data.subscriptions.iter().find(|s| s["id"] == json!(id)) {
                    Some(s) => ResponseTemplate::new(200).set_body_json(s),
                    None => error(404, "Subscription not found"),
                }
            }
            ("PUT", p) if p.starts_with("/referential/v1/subscriptions/") => {
                let id = p["/referential/v1/subscriptions/".len()..].to_owned();
                match data.subscriptions.iter_mut().find(|s| s["id"] == json!(id)) {
                    Some(s) => {
                        let mut updated = body.clone();
                        updated["id"] = json!(id);
                        *s = updated.clone();
                        ResponseTemplate::new(200).set_body_json(updated)
                    }
                    None => error(404, "Subscription not found"),
                }
            }
            _ => error(404, "not found"),
        }
    }
}

/// What the formulaire QF stand-in holds.
#[derive(Default, Debug)]
pub struct FormData {
    pub failures: u32,
    /// How many of the next activations hang (a 503 after a minute), like a stalled service.
    pub hanging: u32,
    /// Activations received while hanging.
    pub hung: u32,
    /// Active collectivités, by SIRET.
    pub collectivites: BTreeMap<String, Value>,
    /// SIRETs refused with a 422.
    pub refuse: BTreeSet<String>,
    /// Activation bodies received.
    pub posts: Vec<Value>,
}

pub struct FormStandIn {
    pub server: MockServer,
    pub data: Arc<Mutex<FormData>>,
}

impl FormStandIn {
    pub async fn start(failures: u32) -> FormStandIn {
        let server = MockServer::start().await;
        let data = Arc::new(Mutex::new(FormData {
            failures,
            ..FormData::default()
        }));
        Mock::given(wiremock::matchers::any())
            .respond_with(FormResponder(data.clone()))
            .mount(&server)
            .await;
        FormStandIn { server, data }
    }

    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("FORM_BASE_URL", self.server.uri()),
            ("FORM_API_KEY", FORM_KEY.to_owned()),
            ("FORM_API_RETRY_DELAY", "0.2".to_owned()),
            ("FORM_API_TIMEOUT", "2".to_owned()),
        ]
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut FormData) -> T) -> T {
        f(&mut self.data.lock().expect("stand-in lock"))
    }

    /// The public lookup, as anyone would do it.
    pub async fn lookup(&self, code_cog: &str) -> u16 {
        reqwest::get(format!(
            "{}/api/collectivites/{code_cog}",
            self.server.uri()
        ))
        .await
        .expect("stand-in answers")
        .status()
        .as_u16()
    }
}

struct FormResponder(Arc<Mutex<FormData>>);

/// The département of a commune code, as the form checks it.
fn departement_of(cog: &str) -> String {
    if cog.starts_with("97") {
        cog[..3].to_owned()
    } else {
        cog[..2].to_owned()
    }
}

impl Respond for FormResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut data = self.0.lock().expect("stand-in lock");
        if data.hanging > 0 && request.method.as_str() == "POST" {
            data.hanging -= 1;
            data.hung += 1;
            return ResponseTemplate::new(503)
                .set_body_string("Service Unavailable")
                .set_delay(std::time::Duration::from_secs(60));
        }
        if data.failures > 0 {
            data.failures -= 1;
            return ResponseTemplate::new(503).set_body_string("Service Unavailable");
        }
        let path = request.url.path().to_owned();
        match (request.method.as_str(), path.as_str()) {
            ("POST", "/api/collectivites") => {
                let auth = request
                    .headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                if auth != format!("Bearer {FORM_KEY}") {
                    return ResponseTemplate::new(401)
                        .set_body_json(json!({"error": "Unauthorized"}));
                }
                let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
                data.posts.push(body.clone());
                let text = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default();
                let siret = text("siret").to_owned();
                let cog = text("code_cog").to_owned();
                let mut errors = serde_json::Map::new();
                if siret.len() != 14 || !siret.bytes().all(|b| b.is_ascii_digit()) {
                    errors.insert("siret".into(), json!(["is invalid"]));
                }
                if cog.len() != 5 {
                    errors.insert("code_cog".into(), json!(["is invalid"]));
                } else if text("departement") != departement_of(&cog) {
                    errors.insert("departement".into(), json!(["does not match code_cog"]));
                }
                if text("name").is_empty() {
                    errors.insert("name".into(), json!(["can't be blank"]));
                }
                if text("status") != "active" {
                    errors.insert("status".into(), json!(["is not included in the list"]));
                }
                if !matches!(body.get("editor"), Some(Value::String(_) | Value::Null)) {
                    errors.insert("editor".into(), json!(["must be given, or null"]));
                }
                if data.refuse.contains(&siret) {
                    errors.insert(
                        "siret".into(),
                        json!(["n'est pas une collectivité éligible"]),
                    );
                }
                if !errors.is_empty() {
                    return ResponseTemplate::new(422).set_body_json(json!({"errors": errors}));
                }
                if data.collectivites.contains_key(&siret) {
                    return ResponseTemplate::new(409)
                        .set_body_json(json!({"error": "Collectivity already exists"}));
                }
                let row = json!({"name": text("name"), "siret": siret, "code_cog": cog, "editor": body["editor"]});
                data.collectivites.insert(siret, row.clone());
                ResponseTemplate::new(201).set_body_json(row)
            }
            ("GET", "/api/collectivites") => {
                let all: Vec<&Value> = data.collectivites.values().collect();
                ResponseTemplate::new(200).set_body_json(all)
            }
            ("GET", p) if p.starts_with("/api/collectivites/") => {
                let cog = &p["/api/collectivites/".len()..];
                match data
                    .collectivites
                    .values()
                    .find(|c| c["code_cog"] == json!(cog))
                {
                    Some(c) => ResponseTemplate::new(200).set_body_json(json!({
                        "name": c["name"], "siret": c["siret"], "code_cog": c["code_cog"]
                    })),
                    None => ResponseTemplate::new(404)
                        .set_body_json(json!({"error": "Collectivity not found"})),
                }
            }
            _ => ResponseTemplate::new(404).set_body_json(json!({"error": "Not found"})),
        }
    }
}
