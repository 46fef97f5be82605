//! Client of the HubEE referential API: the subscriptions of collectivités to the
//! `FormulaireQF` procedure.
//!
//! Authentication is OAuth2 *client credentials*: `POST {auth_url}/oauth2/token` with HTTP Basic
//! auth and `grant_type=client_credentials&scope=ADMIN`, as the reference client sends it. The access token is cached until 60 seconds before
//! it expires; concurrent callers wait for one shared token request, and a `401` from the API
//! drops the cached token and replays the call once with a fresh one.
//!
//! Every call returns a [`HubeeError`] rather than panicking; its French message is meant to be
//! shown to the team, and [`HubeeError::is_retryable`] tells an outage (try again later) from a
//! refusal (fix the data or the configuration). Neither the client secret nor the access token
//! ever appears in a message, a log line or a `Debug` output.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::config::Secret;
use crate::domain::hubee::SubscriptionStatus;

/// The timeout of a request when none is configured, connection and body included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A token is renewed this long before HubEE says it expires.
pub const TOKEN_EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// How long a token is kept when HubEE does not say (`expires_in` missing).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// A token is never kept longer than this, whatever HubEE says.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Largest answer read; a full list of subscriptions stays well below.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Longest excerpt of an answer quoted in an error message, in characters.
const MAX_MESSAGE_CHARS: usize = 300;

/// Path of the token endpoint under `auth_url`.
const TOKEN_PATH: [&str; 2] = ["oauth2", "token"];

/// Path of the subscriptions under `api_url`.
const SUBSCRIPTIONS_PATH: [&str; 3] = ["referential", "v1", "subscriptions"];

/// Path of the organizations under `api_url`.
const ORGANIZATIONS_PATH: [&str; 3] = ["referential", "v1", "organizations"];

/// Most pages read from one list (a safety stop against a server that never says "last").
const MAX_PAGES: u32 = 1000;

/// The subscriber type of a collectivité (`SI`: *service instructeur*).
pub const SUBSCRIBER_KIND: &str = "SI";

/// The delegation type of an éditeur.
pub const EDITEUR_DELEGATION_KIND: &str = "EDT";

/// How to reach HubEE. Both URLs are given without trailing slash (one is tolerated).
#[derive(Clone, Debug)]
pub struct HubeeConfig {
    /// Base URL of the authorisation server, e.g. `https://auth.hubee.numerique.gouv.fr`.
    pub auth_url: String,
    /// Base URL of the API, e.g. `https://api.hubee.numerique.gouv.fr`.
    pub api_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Timeout of each request, connection and body included.
    pub timeout: Duration,
}

/// Why a HubEE call failed. Messages are in French and never hold a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HubeeError {
    /// A URL, the client id or the secret is missing or unusable: nothing was asked.
    #[error("L'API HubEE n'est pas configurée.")]
    NotConfigured,
    /// HubEE did not answer in time, could not be reached or had an internal error: try again.
    #[error("HubEE est indisponible : {0}")]
    Unavailable(String),
    /// HubEE refused the request (4xx): the same request will be refused again.
    #[error("{}", rejected_message(*.status, .message))]
    Rejected { status: u16, message: String },
    /// HubEE refused the client credentials or the token: a configuration problem.
    #[error("HubEE refuse l'authentification : {0}")]
    Unauthorized(String),
    /// HubEE answered something that cannot be read.
    #[error("Réponse de HubEE illisible : {0}")]
    InvalidResponse(String),
    /// The back office lacks something HubEE needs: nothing was sent.
    #[error("Provisionnement HubEE impossible : {0}")]
    Incomplete(String),
}

fn rejected_message(status: u16, message: &str) -> String {
    if message.is_empty() {
        format!("HubEE a refusé la requête (HTTP {status}).")
    } else {
        format!("HubEE a refusé la requête (HTTP {status}) : {message}")
    }
}

impl HubeeError {
    /// Whether the same call may succeed later (only outages are).
    pub fn is_retryable(&self) -> bool {
        matches!(self, HubeeError::Unavailable(_))
    }

    /// Whether HubEE refused because the object already exists (a 400 or 409 whose message
    /// says `already exists`).
    pub fn is_already_exists(&self) -> bool {
        matches!(self, HubeeError::Rejected { status: 400 | 409, message }
            if message.to_ascii_lowercase().contains("already exist"))
    }
}

/// A subscription as the referential API describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteSubscription {
    /// HubEE's id; absent on creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `FormulaireQF` for the national QF form.
    pub process_code: String,
    /// `Inactif`, `Actif`, `Suspendu` or `Refusé` (see [`RemoteSubscription::status_code`]).
    pub status: String,
    /// `PORTAIL` or `API`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_mode: Option<String>,
    /// `Biquotidienne`, `Quotidienne`, `Unitaire` or `Aucune`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_frequency: Option<String>,
    /// The notification e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The DataPass number, sent as given (e.g. `D12345`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_pass_id: Option<String>,
    pub subscriber: Subscriber,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_administrator: Option<LocalAdministrator>,
    /// The éditeur the subscription is delegated to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation_actor: Option<DelegationActor>,
    /// ISO 8601 date or date-time (see [`RemoteSubscription::activation_date`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activate_date_time: Option<String>,
    /// ISO 8601 date or date-time (see [`RemoteSubscription::end_date`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_date_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_date_time: Option<String>,
}

/// The subscribing organisation: a collectivité, type `SI`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscriber {
    #[serde(rename = "type")]
    pub kind: String,
    /// The collectivité's SIRET.
    pub company_register: String,
    /// The commune code (COG).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch_code: Option<String>,
}

impl Subscriber {
    /// A collectivité (type `SI`) with its SIRET and commune code.
    pub fn collectivite(siret: impl Into<String>, commune_code: Option<String>) -> Subscriber {
        Subscriber {
            kind: SUBSCRIBER_KIND.to_owned(),
            company_register: siret.into(),
            branch_code: commune_code,
        }
    }
}

/// The subscription's first local administrator on the HubEE portal.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalAdministrator {
    pub email: String,
}

/// A delegation of the subscription to an éditeur (type `EDT`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DelegationActor {
    #[serde(rename = "type")]
    pub kind: String,
    /// The éditeur's SIRET.
    pub company_register: String,
}

impl DelegationActor {
    /// A delegation to the éditeur with this SIRET.
    pub fn editeur(siret: impl Into<String>) -> DelegationActor {
        DelegationActor {
            kind: EDITEUR_DELEGATION_KIND.to_owned(),
            company_register: siret.into(),
        }
    }
}

impl RemoteSubscription {
    /// The activation date, read from a date or a date-time (the date as written, whatever
    /// the offset). None when absent or unreadable.
    pub fn activation_date(&self) -> Option<NaiveDate> {
        self.activate_date_time.as_deref().and_then(parse_date)
    }

    /// The end date, read like [`RemoteSubscription::activation_date`].
    pub fn end_date(&self) -> Option<NaiveDate> {
        self.end_date_time.as_deref().and_then(parse_date)
    }

    /// The status, whatever its case and accents (`Refusé`, `REFUSE`, `refuse`…); None when
    /// HubEE sends a status the back office does not know.
    pub fn status_code(&self) -> Option<SubscriptionStatus> {
        let wanted = fold(&self.status);
        SubscriptionStatus::ALL
            .into_iter()
            .find(|status| fold(status.as_str()) == wanted || fold(status.label_fr()) == wanted)
    }
}

/// A HubEE client; cheap to clone (clones share the HTTP pool and the cached token).
#[derive(Clone)]
pub struct HubeeClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: HubeeConfig,
    /// None when the configuration is unusable: every call is then `NotConfigured`.
    endpoints: Option<Endpoints>,
    /// The cached access token and the instant it must be renewed.
    token: tokio::sync::Mutex<Option<(String, Instant)>>,
}

struct Endpoints {
    token: url::Url,
    subscriptions: url::Url,
    organizations: url::Url,
}

impl std::fmt::Debug for HubeeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let config = &self.inner.config;
        f.debug_struct("HubeeClient")
            .field("auth_url", &config.auth_url)
            .field("api_url", &config.api_url)
            .field("client_id", &config.client_id)
            .field("client_secret", &"***")
            .field("timeout", &config.timeout)
            .field("configured", &self.is_configured())
            .finish()
    }
}

/// An API answer once the authentication dance is over.
struct Answer {
    status: reqwest::StatusCode,
    body: Vec<u8>,
    /// For an error status: the body cut and without secrets, as quoted in messages.
    excerpt: String,
}

impl HubeeClient {
    /// A client for this configuration. Blank or non-HTTP(S) URLs, a blank client id or a
    /// blank secret make a client whose every call is [`HubeeError::NotConfigured`].
    pub fn new(config: HubeeConfig) -> HubeeClient {
        let endpoints = endpoints(&config);
        if endpoints.is_none() {
            tracing::warn!(
                auth_url = %config.auth_url,
                api_url = %config.api_url,
                "configuration de l'API HubEE incomplète ou invalide"
            );
        }
        HubeeClient {
            inner: Arc::new(Inner {
                http: build_http(config.timeout),
                config,
                endpoints,
                token: tokio::sync::Mutex::new(None),
            }),
        }
    }

    /// The timeout of each request.
    pub fn timeout(&self) -> Duration {
        self.inner.config.timeout
    }

    /// Whether calls will reach HubEE.
    pub fn is_configured(&self) -> bool {
        self.inner.endpoints.is_some()
    }

    /// Creates a subscription (`POST …/subscriptions`) and returns it as HubEE recorded it,
    /// with its `id`.
    pub async fn create_subscription(
        &self,
        subscription: &RemoteSubscription,
    ) -> Result<RemoteSubscription, HubeeError> {
        let url = self.endpoints()?.subscriptions.clone();
        let body = encode(subscription)?;
        let answer = self.call(reqwest::Method::POST, url, Some(body)).await?;
        let created: RemoteSubscription = parse_json(&success_body(answer)?)?;
        if created.id.as_deref().is_none_or(|id| id.trim().is_empty()) {
            return Err(HubeeError::InvalidResponse(
                "l'abonnement créé n'a pas d'identifiant.".to_owned(),
            ));
        }
        Ok(created)
    }

    /// The subscription with this id (`GET …/subscriptions/{id}`); None when HubEE does not
    /// know it (404) or the id is blank.
    pub async fn get_subscription(
        &self,
        id: &str,
    ) -> Result<Option<RemoteSubscription>, HubeeError> {
        let url = self.subscription_url(id)?;
        if id.trim().is_empty() {
            return Ok(None);
        }
        let answer = self.call(reqwest::Method::GET, url, None).await?;
        if answer.status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        parse_json(&success_body(answer)?).map(Some)
    }

    /// The subscriptions matching the filters given (`GET …/subscriptions?processCode=…&
    /// companyRegister=…&status=…`, only the filters set are sent; the status as HubEE's label,
    /// e.g. `Refusé`). Accepts a bare array or pages (`{"content": [...], "last", "totalPages",
    /// "number"}`), of which every page is read (`page=0, 1, …`).
    pub async fn list_subscriptions(
        &self,
        process_code: Option<&str>,
        company_register: Option<&str>,
        status: Option<SubscriptionStatus>,
    ) -> Result<Vec<RemoteSubscription>, HubeeError> {
        let filters = [
            ("processCode", process_code),
            ("companyRegister", company_register),
            ("status", status.map(SubscriptionStatus::label_fr)),
        ];
        let mut all = Vec::new();
        let mut page: u32 = 0;
        loop {
            let mut url = self.endpoints()?.subscriptions.clone();
            {
                let mut query = url.query_pairs_mut();
                for (name, value) in filters {
                    if let Some(value) = value {
                        query.append_pair(name, value);
                    }
                }
                if page > 0 {
                    query.append_pair("page", &page.to_string());
                }
            }
            if url.query() == Some("") {
                url.set_query(None);
            }
            let answer = self.call(reqwest::Method::GET, url, None).await?;
            let list: SubscriptionList = parse_json(&success_body(answer)?)?;
            match list {
                SubscriptionList::Bare(items) => {
                    all.extend(items);
                    return Ok(all);
                }
                SubscriptionList::Page {
                    content,
                    last,
                    total_pages,
                    number,
                } => {
                    let empty = content.is_empty();
                    all.extend(content);
                    let current = number.unwrap_or(page);
                    let more = match (last, total_pages) {
                        (Some(last), _) => !last,
                        (None, Some(total)) => current + 1 < total,
                        (None, None) => false,
                    };
                    if !more || empty || page + 1 >= MAX_PAGES {
                        return Ok(all);
                    }
                    page = current + 1;
                }
            }
        }
    }

    /// The organization with this id (`GET …/organizations/{id}`); None on 404.
    pub async fn get_organization(
        &self,
        id: &str,
    ) -> Result<Option<serde_json::Value>, HubeeError> {
        let mut url = self.endpoints()?.organizations.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.push(id.trim());
        }
        let answer = self.call(reqwest::Method::GET, url, None).await?;
        if answer.status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        parse_json(&success_body(answer)?).map(Some)
    }

    /// Creates an organization (`POST …/organizations`). "Already exists" counts as success.
    pub async fn create_organization(
        &self,
        organization: &NewOrganization,
    ) -> Result<(), HubeeError> {
        let url = self.endpoints()?.organizations.clone();
        let body = serde_json::to_vec(organization).map_err(|error| {
            HubeeError::InvalidResponse(format!("organisation impossible à encoder ({error})."))
        })?;
        let answer = self.call(reqwest::Method::POST, url, Some(body)).await?;
        match success_body(answer) {
            Ok(_) => Ok(()),
            Err(error) if error.is_already_exists() => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Creates a subscription as HubEE requires it (`POST …/subscriptions`, status `Inactif`,
    /// `datapassId` a number) and returns HubEE's id. A subscription that already exists is
    /// looked up (every page of `?companyRegister=<SIRET>&processCode=…`) and adopted.
    pub async fn create_inactive_subscription(
        &self,
        subscription: &NewSubscription,
    ) -> Result<(String, bool), HubeeError> {
        let url = self.endpoints()?.subscriptions.clone();
        let body = serde_json::to_vec(subscription).map_err(|error| {
            HubeeError::InvalidResponse(format!("abonnement impossible à encoder ({error})."))
        })?;
        let answer = self.call(reqwest::Method::POST, url, Some(body)).await?;
        match success_body(answer) {
            Ok(body) => {
                let created: RemoteSubscription = parse_json(&body)?;
                match created.id.filter(|id| !id.trim().is_empty()) {
                    Some(id) => Ok((id, false)),
                    None => Err(HubeeError::InvalidResponse(
                        "l'abonnement créé n'a pas d'identifiant.".to_owned(),
                    )),
                }
            }
            Err(error) if error.is_already_exists() => {
                let existing = self
                    .list_subscriptions(
                        Some(&subscription.process_code),
                        Some(&subscription.subscriber.company_register),
                        None,
                    )
                    .await?;
                let wanted = subscription.subscriber.branch_code.as_deref();
                let found = existing
                    .iter()
                    .filter(|s| {
                        s.process_code == subscription.process_code
                            && s.subscriber.company_register
                                == subscription.subscriber.company_register
                    })
                    .max_by_key(|s| {
                        wanted.is_some() && s.subscriber.branch_code.as_deref() == wanted
                    })
                    .and_then(|s| s.id.clone());
                found
                    .map(|id| (id, true))
                    .ok_or_else(|| HubeeError::Rejected {
                        status: 400,
                        message: "HubEE dit que l'abonnement existe déjà mais ne le renvoie pas."
                            .to_owned(),
                    })
            }
            Err(error) => Err(error),
        }
    }

    /// Replaces the subscription with this id (`PUT …/subscriptions/{id}`) and returns it as
    /// HubEE recorded it. An unknown id is `Rejected` with status 404.
    pub async fn update_subscription(
        &self,
        id: &str,
        subscription: &RemoteSubscription,
    ) -> Result<RemoteSubscription, HubeeError> {
        let url = self.subscription_url(id)?;
        let body = encode(subscription)?;
        let answer = self.call(reqwest::Method::PUT, url, Some(body)).await?;
        parse_json(&success_body(answer)?)
    }

    fn endpoints(&self) -> Result<&Endpoints, HubeeError> {
        self.inner
            .endpoints
            .as_ref()
            .ok_or(HubeeError::NotConfigured)
    }

    /// `…/subscriptions/{id}`, the id encoded as one path segment.
    fn subscription_url(&self, id: &str) -> Result<url::Url, HubeeError> {
        let mut url = self.endpoints()?.subscriptions.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.push(id.trim());
        }
        Ok(url)
    }

    /// Sends an authenticated request; on a 401, renews the token and sends it once more.
    async fn call(
        &self,
        method: reqwest::Method,
        url: url::Url,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, HubeeError> {
        let token = self.token().await?;
        let answer = self.send(&method, &url, body.as_deref(), &token).await?;
        if answer.status != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(answer);
        }
        tracing::info!(url = %url, "jeton HubEE refusé : renouvellement");
        self.forget_token(&token).await;
        let token = self.token().await?;
        let answer = self.send(&method, &url, body.as_deref(), &token).await?;
        if answer.status == reqwest::StatusCode::UNAUTHORIZED {
            let reason = format!(
                "l'API refuse un jeton tout juste délivré (HTTP 401){}",
                suffix(&answer.excerpt)
            );
            tracing::warn!(url = %url, reason = %reason, "HubEE refuse l'authentification");
            return Err(HubeeError::Unauthorized(reason));
        }
        Ok(answer)
    }

    async fn send(
        &self,
        method: &reqwest::Method,
        url: &url::Url,
        body: Option<&[u8]>,
        token: &str,
    ) -> Result<Answer, HubeeError> {
        let mut request = self
            .inner
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_vec());
        }
        let response = request.send().await.map_err(|error| {
            let reason = transport_reason(&error);
            tracing::warn!(url = %url, reason = %reason, "HubEE indisponible");
            HubeeError::Unavailable(reason)
        })?;
        let status = response.status();
        let body = read_limited(response).await.map_err(|error| {
            tracing::warn!(url = %url, error = %error, "réponse de HubEE non lue");
            error
        })?;
        let excerpt = if status.is_success() {
            String::new()
        } else {
            excerpt(&body, self.secrets(token))
        };
        let answer = Answer {
            status,
            body,
            excerpt,
        };
        if status.is_server_error()
            || status == reqwest::StatusCode::REQUEST_TIMEOUT
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        {
            let reason = format!(
                "HubEE a répondu par une erreur (HTTP {}){}",
                status.as_u16(),
                suffix(&answer.excerpt)
            );
            tracing::warn!(url = %url, reason = %reason, "HubEE indisponible");
            return Err(HubeeError::Unavailable(reason));
        }
        Ok(answer)
    }

    /// The cached token, or a new one. The lock is held during the token request so that
    /// concurrent callers share it.
    async fn token(&self) -> Result<String, HubeeError> {
        let mut cached = self.inner.token.lock().await;
        if let Some((token, renew_at)) = cached.as_ref()
            && Instant::now() < *renew_at
        {
            return Ok(token.clone());
        }
        *cached = None;
        let (token, lifetime) = self.request_token().await?;
        let keep = lifetime
            .min(MAX_TOKEN_LIFETIME)
            .saturating_sub(TOKEN_EXPIRY_MARGIN);
        let now = Instant::now();
        let renew_at = now.checked_add(keep).unwrap_or(now);
        *cached = Some((token.clone(), renew_at));
        Ok(token)
    }

    /// Drops the cached token if it is still `token` (another caller may have renewed it).
    async fn forget_token(&self, token: &str) {
        let mut cached = self.inner.token.lock().await;
        if cached.as_ref().is_some_and(|(current, _)| current == token) {
            *cached = None;
        }
    }

    /// `POST {auth_url}/oauth2/token`: the token and its lifetime.
    async fn request_token(&self) -> Result<(String, Duration), HubeeError> {
        let url = self.endpoints()?.token.clone();
        let config = &self.inner.config;
        let response = self
            .inner
            .http
            .post(url.clone())
            .basic_auth(&config.client_id, Some(config.client_secret.expose()))
            .header(reqwest::header::ACCEPT, "application/json")
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body("grant_type=client_credentials&scope=ADMIN")
            .send()
            .await
            .map_err(|error| {
                let reason = transport_reason(&error);
                tracing::warn!(url = %url, reason = %reason, "serveur d'authentification HubEE indisponible");
                HubeeError::Unavailable(reason)
            })?;
        let status = response.status();
        let body = read_limited(response).await?;
        let code = status.as_u16();
        if !status.is_success() {
            let quoted = suffix(&excerpt(&body, self.secrets("")));
            let error = match code {
                400 | 401 | 403 => HubeeError::Unauthorized(format!(
                    "identifiants refusés par le serveur d'authentification (HTTP {code}){quoted}"
                )),
                408 | 429 | 500..=599 => HubeeError::Unavailable(format!(
                    "le serveur d'authentification a répondu par une erreur (HTTP {code}){quoted}"
                )),
                400..=499 => HubeeError::Rejected {
                    status: code,
                    message: format!(
                        "demande de jeton refusée par le serveur d'authentification{quoted}"
                    ),
                },
                _ => HubeeError::InvalidResponse(format!(
                    "réponse inattendue du serveur d'authentification (HTTP {code})."
                )),
            };
            tracing::warn!(url = %url, error = %error, "jeton HubEE non obtenu");
            return Err(error);
        }
        // The answer holds the token: its content is never quoted.
        let unreadable = || {
            HubeeError::InvalidResponse(
                "le serveur d'authentification n'a pas délivré de jeton lisible.".to_owned(),
            )
        };
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|_| unreadable())?;
        let token = answer.access_token.trim().to_owned();
        let bearer = answer
            .token_type
            .as_deref()
            .is_none_or(|kind| kind.trim().eq_ignore_ascii_case("bearer"));
        if token.is_empty() || !bearer {
            return Err(unreadable());
        }
        let lifetime = answer
            .expires_in
            .map_or(DEFAULT_TOKEN_LIFETIME, Duration::from_secs);
        Ok((token, lifetime))
    }

    /// What must never be quoted back: the secret and the token in use.
    fn secrets<'a>(&'a self, token: &'a str) -> [&'a str; 2] {
        [self.inner.config.client_secret.expose(), token]
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SubscriptionList {
    Bare(Vec<RemoteSubscription>),
    #[serde(rename_all = "camelCase")]
    Page {
        content: Vec<RemoteSubscription>,
        #[serde(default)]
        last: Option<bool>,
        #[serde(default)]
        total_pages: Option<u32>,
        #[serde(default)]
        number: Option<u32>,
    },
}

/// An organization to create: a collectivité as *service instructeur*, id `SI-<SIRET>-<COG>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewOrganization {
    #[serde(rename = "type")]
    pub kind: String,
    /// The SIRET.
    pub company_register: String,
    /// The commune code (COG).
    pub branch_code: String,
    /// The demandeur, first administrator.
    pub email: String,
    pub name: String,
    pub country: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// The commune code (COG).
    pub territory: String,
    pub status: String,
}

impl NewOrganization {
    /// HubEE's id of a collectivité's organization.
    pub fn id_of(siret: &str, cog: &str) -> String {
        format!("{SUBSCRIBER_KIND}-{siret}-{cog}")
    }
}

/// A subscription to create, as HubEE requires it since July 2026 (`Inactif`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewSubscription {
    /// The DataPass number, as a number (absent for a request typed in by staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datapass_id: Option<i64>,
    pub process_code: String,
    pub subscriber: Subscriber,
    /// The notification address.
    pub email: Option<String>,
    pub status: String,
    pub notification_frequency: String,
    pub local_administrator: NewLocalAdministrator,
    pub validate_date_time: String,
    pub update_date_time: String,
}

/// The subscription's local administrator at creation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewLocalAdministrator {
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
}

/// The token and subscription URLs, or None when the configuration is unusable.
fn endpoints(config: &HubeeConfig) -> Option<Endpoints> {
    if config.client_id.trim().is_empty() || config.client_secret.expose().is_empty() {
        return None;
    }
    Some(Endpoints {
        token: endpoint(&config.auth_url, &TOKEN_PATH)?,
        subscriptions: endpoint(&config.api_url, &SUBSCRIPTIONS_PATH)?,
        organizations: endpoint(&config.api_url, &ORGANIZATIONS_PATH)?,
    })
}

/// `{base}/{path…}`, keeping any path the base URL has.
fn endpoint(base: &str, path: &[&str]) -> Option<url::Url> {
    let mut url = url::Url::parse(base.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut().ok()?.pop_if_empty().extend(path);
    Some(url)
}

fn build_http(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        // The bearer token must not follow a redirection: HubEE does not redirect its API.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("qf-backoffice/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

fn transport_reason(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "HubEE n'a pas répondu à temps.".to_owned()
    } else if error.is_connect() {
        "HubEE est injoignable.".to_owned()
    } else {
        "échange avec HubEE interrompu.".to_owned()
    }
}

async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, HubeeError> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(HubeeError::InvalidResponse(
                        "réponse trop volumineuse.".to_owned(),
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(error) => return Err(HubeeError::Unavailable(transport_reason(&error))),
        }
    }
}

/// The body of a successful answer; any other status (5xx and 401 are handled before) is a
/// refusal or an unexpected answer.
fn success_body(answer: Answer) -> Result<Vec<u8>, HubeeError> {
    let code = answer.status.as_u16();
    if answer.status.is_success() {
        Ok(answer.body)
    } else if answer.status.is_client_error() {
        Err(HubeeError::Rejected {
            status: code,
            message: answer.excerpt,
        })
    } else {
        Err(HubeeError::InvalidResponse(format!(
            "statut inattendu (HTTP {code})."
        )))
    }
}

fn encode(subscription: &RemoteSubscription) -> Result<Vec<u8>, HubeeError> {
    serde_json::to_vec(subscription).map_err(|error| {
        HubeeError::InvalidResponse(format!("abonnement impossible à encoder ({error})."))
    })
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, HubeeError> {
    serde_json::from_slice(body).map_err(|error| {
        let reason = if body.iter().all(u8::is_ascii_whitespace) {
            "réponse vide.".to_owned()
        } else {
            truncate(&format!("JSON inattendu ({error})."))
        };
        HubeeError::InvalidResponse(reason)
    })
}

/// The body as text, trimmed, without the given secrets, cut to `MAX_MESSAGE_CHARS`.
fn excerpt(body: &[u8], secrets: [&str; 2]) -> String {
    let mut text = String::from_utf8_lossy(body).trim().to_owned();
    for secret in secrets {
        if !secret.is_empty() {
            text = text.replace(secret, "***");
        }
    }
    truncate(&text)
}

/// ` : <excerpt>`, or a full stop when there is nothing to quote.
fn suffix(text: &str) -> String {
    if text.is_empty() {
        ".".to_owned()
    } else {
        format!(" : {text}")
    }
}

/// At most `MAX_MESSAGE_CHARS` characters, `…` marking a cut.
fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A date, or a date-time with or without offset (its date as written).
fn parse_date(value: &str) -> Option<NaiveDate> {
    let value = value.trim();
    if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Some(date);
    }
    if let Ok(date_time) = DateTime::parse_from_rfc3339(value) {
        return Some(date_time.date_naive());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(date_time) = DateTime::parse_from_str(value, format) {
            return Some(date_time.date_naive());
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(date_time) = NaiveDateTime::parse_from_str(value, format) {
            return Some(date_time.date());
        }
    }
    None
}

/// Lower case without French accents, for comparing labels.
fn fold(value: &str) -> String {
    value
        .trim()
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(auth_url: &str, api_url: &str) -> HubeeConfig {
        HubeeConfig {
            auth_url: auth_url.to_owned(),
            api_url: api_url.to_owned(),
            client_id: "client-id".to_owned(),
            client_secret: Secret::new("very-secret"),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    fn subscription(status: &str) -> RemoteSubscription {
        RemoteSubscription {
            status: status.to_owned(),
            ..RemoteSubscription::default()
        }
    }

    #[test]
    fn builds_the_endpoints() {
        let endpoints = endpoints(&config(
            "https://auth.example/",
            "http://127.0.0.1:9000/hubee",
        ));
        let endpoints = endpoints.map(|e| (e.token.to_string(), e.subscriptions.to_string()));
        assert_eq!(
            endpoints,
            Some((
                "https://auth.example/oauth2/token".to_owned(),
                "http://127.0.0.1:9000/hubee/referential/v1/subscriptions".to_owned()
            ))
        );
        for (auth, api) in [
            ("", "https://api.example"),
            ("ftp://x", "https://api.example"),
        ] {
            assert!(endpoints_of(auth, api).is_none(), "{auth} {api}");
        }
        let mut blank_id = config("https://a.example", "https://b.example");
        blank_id.client_id = " ".to_owned();
        assert!(super::endpoints(&blank_id).is_none());
    }

    fn endpoints_of(auth: &str, api: &str) -> Option<Endpoints> {
        endpoints(&config(auth, api))
    }

    #[tokio::test]
    async fn an_unconfigured_client_asks_nothing() {
        let client = HubeeClient::new(config("not a url", "https://api.example"));
        assert!(!client.is_configured());
        assert_eq!(
            client.list_subscriptions(None, None, None).await,
            Err(HubeeError::NotConfigured)
        );
        assert_eq!(
            client.get_subscription("abc").await,
            Err(HubeeError::NotConfigured)
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        let client = HubeeClient::new(config("https://a.example", "https://b.example"));
        let printed = format!("{client:?}");
        assert!(!printed.contains("very-secret"), "{printed}");
        assert!(printed.contains("client-id"), "{printed}");
        let printed = format!("{:?}", config("https://a.example", "https://b.example"));
        assert!(!printed.contains("very-secret"), "{printed}");
    }

    #[test]
    fn reads_dates_and_date_times() {
        let day = NaiveDate::from_ymd_opt(2024, 5, 1);
        for value in [
            "2024-05-01",
            " 2024-05-01 ",
            "2024-05-01T10:15:00",
            "2024-05-01T10:15:00.123",
            "2024-05-01T10:15",
            "2024-05-01 10:15:00",
            "2024-05-01T10:15:00Z",
            "2024-05-01T23:30:00.000+02:00",
            "2024-05-01T00:30:00-05:00",
            "2024-05-01T10:15:00+0200",
        ] {
            let mut remote = subscription("Actif");
            remote.activate_date_time = Some(value.to_owned());
            remote.end_date_time = Some(value.to_owned());
            assert_eq!(remote.activation_date(), day, "{value}");
            assert_eq!(remote.end_date(), day, "{value}");
        }
        for value in ["", "01/05/2024", "2024-13-01", "demain"] {
            assert_eq!(parse_date(value), None, "{value}");
        }
        assert_eq!(subscription("Actif").activation_date(), None);
    }

    #[test]
    fn maps_status_labels() {
        for (label, status) in [
            ("Inactif", Some(SubscriptionStatus::Inactif)),
            ("ACTIF", Some(SubscriptionStatus::Actif)),
            (" suspendu ", Some(SubscriptionStatus::Suspendu)),
            ("Refusé", Some(SubscriptionStatus::Refuse)),
            ("REFUSÉ", Some(SubscriptionStatus::Refuse)),
            ("Refuse", Some(SubscriptionStatus::Refuse)),
            ("REFUSE", Some(SubscriptionStatus::Refuse)),
            ("Supprimé", None),
            ("", None),
        ] {
            assert_eq!(subscription(label).status_code(), status, "{label}");
        }
    }

    #[test]
    fn serializes_in_camel_case_without_absent_fields() {
        let remote = RemoteSubscription {
            process_code: "FormulaireQF".to_owned(),
            status: "Inactif".to_owned(),
            data_pass_id: Some("D12345".to_owned()),
            subscriber: Subscriber::collectivite("21750001600019", Some("75056".to_owned())),
            delegation_actor: Some(DelegationActor::editeur("12345678901234")),
            ..RemoteSubscription::default()
        };
        assert_eq!(
            serde_json::to_value(&remote).ok(),
            Some(serde_json::json!({
                "processCode": "FormulaireQF",
                "status": "Inactif",
                "dataPassId": "D12345",
                "subscriber": {"type": "SI", "companyRegister": "21750001600019", "branchCode": "75056"},
                "delegationActor": {"type": "EDT", "companyRegister": "12345678901234"}
            }))
        );
    }

    #[test]
    fn excerpts_are_cut_and_redacted() {
        let long = "é".repeat(400);
        let cut = excerpt(long.as_bytes(), [""; 2]);
        assert_eq!(cut.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(
            excerpt(b" bad very-secret and tok ", ["very-secret", "tok"]),
            "bad *** and ***"
        );
        assert_eq!(suffix(&excerpt(b"  ", [""; 2])), ".");
    }

    #[test]
    fn only_outages_are_retryable() {
        assert!(HubeeError::Unavailable("x".to_owned()).is_retryable());
        for error in [
            HubeeError::NotConfigured,
            HubeeError::Rejected {
                status: 400,
                message: String::new(),
            },
            HubeeError::Unauthorized("x".to_owned()),
            HubeeError::InvalidResponse("x".to_owned()),
        ] {
            assert!(!error.is_retryable(), "{error:?}");
        }
        assert_eq!(
            HubeeError::Rejected {
                status: 400,
                message: String::new()
            }
            .to_string(),
            "HubEE a refusé la requête (HTTP 400)."
        );
    }
}
