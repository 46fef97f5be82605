//! ProConnect sign-in: the OpenID Connect authorization code flow with `state`, `nonce` and
//! PKCE against the provider found by discovery; the code exchanged server-side; the
//! `id_token` and the signed userinfo JWT verified against the provider's JWKS (signature,
//! issuer, audience, expiry, nonce); the end-session URL for sign-out. Codes, tokens and the
//! client secret never reach a log line or an error message.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::ProConnectSettings;

/// The scopes asked for.
pub const SCOPES: &str = "openid email given_name usual_name siret uid idp_id";
/// The assurance level asked for by default.
pub const DEFAULT_ACR: &str = "eidas1";
/// The stronger level asked for when the organisation requires a second factor.
pub const MFA_ACR: &str = "eidas2";
/// The `amr` value telling that a second factor was used.
pub const AMR_MFA: &str = "mfa";
/// How long a started flow may take before its callback is refused.
pub const FLOW_LIFETIME_SECONDS: i64 = 10 * 60;
/// Discovery and keys are fetched again after this long (and at once on an unknown key id).
const PROVIDER_TTL: Duration = Duration::from_secs(3600);
/// Signature algorithms accepted from the provider.
const ALGORITHMS: [Algorithm; 2] = [Algorithm::RS256, Algorithm::ES256];
/// Clock skew tolerated on `exp`.
const LEEWAY_SECONDS: u64 = 60;
/// The `claims` parameter asking for `amr` in the id_token (ProConnect sends it on demand).
const CLAIMS: &str = r#"{"id_token":{"amr":{"essential":true}}}"#;

/// Why a ProConnect sign-in failed. The detail is for the log; it never holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum ProConnectError {
    /// Discovery, keys, token or userinfo endpoint unreachable or answering nonsense.
    #[error("ProConnect indisponible : {0}")]
    Unavailable(String),
    /// The token endpoint refused the code (already used, expired, or forged).
    #[error("code refusé par le fournisseur : {0}")]
    CodeRefused(String),
    /// The id_token failed verification.
    #[error("id_token refusé : {0}")]
    IdToken(String),
    /// The userinfo answer failed verification.
    #[error("réponse userinfo refusée : {0}")]
    UserInfo(String),
}

impl ProConnectError {
    /// What the user reads.
    pub fn message_fr(&self) -> &'static str {
        match self {
            ProConnectError::Unavailable(_) => {
                "ProConnect ne répond pas pour le moment. Réessayez dans quelques minutes, ou recevez un lien de connexion par e-mail."
            }
            ProConnectError::CodeRefused(_) => {
                "ProConnect a refusé cette connexion : le code d'autorisation a déjà servi ou a expiré. Recommencez depuis la page de connexion."
            }
            ProConnectError::IdToken(_) | ProConnectError::UserInfo(_) => {
                "L'identité transmise par ProConnect n'a pas pu être vérifiée : la connexion est refusée. Recommencez depuis la page de connexion ; si le problème persiste, contactez l'équipe."
            }
        }
    }
}

/// The provider's metadata, from `<issuer>/.well-known/openid-configuration`.
#[derive(Clone, Debug, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

/// Metadata and signing keys, as fetched at one instant.
#[derive(Clone)]
struct Provider {
    metadata: Metadata,
    keys: Vec<Jwk>,
    fetched_at: Instant,
}

/// A started flow, kept in the browser's session until the callback.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingFlow {
    pub state: String,
    pub nonce: String,
    /// The PKCE code verifier.
    pub verifier: String,
    /// The `acr_values` asked for.
    pub acr: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// A verified ProConnect identity.
#[derive(Clone, Debug)]
pub struct VerifiedIdentity {
    /// Lower-cased, trimmed.
    pub email: String,
    pub sub: String,
    pub siret: Option<String>,
    pub idp_id: Option<String>,
    pub amr: Vec<String>,
    pub acr: Option<String>,
    pub given_name: Option<String>,
    pub usual_name: Option<String>,
    /// Kept for the end-session request (`id_token_hint`).
    pub id_token: String,
}

impl VerifiedIdentity {
    /// Whether the provider says a second factor was used.
    pub fn has_mfa(&self) -> bool {
        self.amr.iter().any(|m| m == AMR_MFA)
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    id_token: String,
}

#[derive(Deserialize)]
struct TokenError {
    #[serde(default)]
    error: String,
}

#[derive(Deserialize)]
struct IdClaims {
    sub: String,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    amr: Option<serde_json::Value>,
    #[serde(default)]
    acr: Option<String>,
}

#[derive(Deserialize)]
struct UserInfoClaims {
    sub: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    siret: Option<serde_json::Value>,
    #[serde(default)]
    idp_id: Option<serde_json::Value>,
    #[serde(default)]
    given_name: Option<String>,
    #[serde(default)]
    usual_name: Option<String>,
}

/// A claim that may come as a string or a number, as a string.
fn text_claim(value: Option<serde_json::Value>) -> Option<String> {
    match value? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Random bytes, URL-safe base64.
fn random_b64(bytes: usize) -> Result<String, ProConnectError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| ProConnectError::Unavailable(format!("aléa : {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// The PKCE S256 challenge of a verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Equal strings, compared in constant time.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The ProConnect client: settings, HTTP client and the cached provider.
pub struct ProConnect {
    settings: ProConnectSettings,
    http: reqwest::Client,
    provider: tokio::sync::Mutex<Option<Provider>>,
}

impl ProConnect {
    /// A client for the configured provider; nothing is fetched before the first sign-in.
    pub fn new(settings: ProConnectSettings) -> ProConnect {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        ProConnect {
            settings,
            http,
            provider: tokio::sync::Mutex::new(None),
        }
    }

    /// The settings (issuer, client id, MFA organisations).
    pub fn settings(&self) -> &ProConnectSettings {
        &self.settings
    }

    /// Whether this organisation requires a second factor.
    pub fn requires_mfa(&self, idp_id: Option<&str>) -> bool {
        idp_id.is_some_and(|id| self.settings.mfa_idps.iter().any(|m| m == id))
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        url: &str,
        what: &str,
    ) -> Result<T, ProConnectError> {
        let response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| ProConnectError::Unavailable(format!("{what} : {}", e.without_url())))?;
        if !response.status().is_success() {
            return Err(ProConnectError::Unavailable(format!(
                "{what} : statut {}",
                response.status().as_u16()
            )));
        }
        response.json::<T>().await.map_err(|e| {
            ProConnectError::Unavailable(format!("{what} illisible : {}", e.without_url()))
        })
    }

    async fn fetch_provider(&self) -> Result<Provider, ProConnectError> {
        let discovery = format!("{}/.well-known/openid-configuration", self.settings.issuer);
        let metadata: Metadata = self.get_json(&discovery, "découverte").await?;
        if metadata.issuer.trim_end_matches('/') != self.settings.issuer {
            return Err(ProConnectError::Unavailable(format!(
                "la découverte annonce l'émetteur « {} » au lieu de « {} »",
                metadata.issuer, self.settings.issuer
            )));
        }
        let jwks: serde_json::Value = self.get_json(&metadata.jwks_uri, "JWKS").await?;
        // Keys of a kind this client does not know are skipped, not fatal.
        let keys: Vec<Jwk> = jwks
            .get("keys")
            .and_then(serde_json::Value::as_array)
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
                    .collect()
            })
            .unwrap_or_default();
        if keys.is_empty() {
            return Err(ProConnectError::Unavailable(
                "JWKS sans clé utilisable".into(),
            ));
        }
        Ok(Provider {
            metadata,
            keys,
            fetched_at: Instant::now(),
        })
    }

    /// The provider, from the cache when fresh; `refresh` forces a new fetch (key rotation).
    async fn provider(&self, refresh: bool) -> Result<Provider, ProConnectError> {
        let mut cached = self.provider.lock().await;
        if let Some(provider) = cached.as_ref()
            && !refresh
            && provider.fetched_at.elapsed() < PROVIDER_TTL
        {
            return Ok(provider.clone());
        }
        let provider = self.fetch_provider().await?;
        *cached = Some(provider.clone());
        Ok(provider)
    }

    /// Starts a flow: the URL to send the browser to, and what the callback will need.
    pub async fn start(
        &self,
        redirect_uri: &str,
        acr: &str,
        now: i64,
    ) -> Result<(String, PendingFlow), ProConnectError> {
        let provider = self.provider(false).await?;
        let flow = PendingFlow {
            state: random_b64(32)?,
            nonce: random_b64(32)?,
            verifier: random_b64(48)?,
            acr: acr.to_owned(),
            created_at: now,
        };
        let mut url = url::Url::parse(&provider.metadata.authorization_endpoint).map_err(|_| {
            ProConnectError::Unavailable("authorization_endpoint n'est pas une URL".into())
        })?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", SCOPES)
            .append_pair("state", &flow.state)
            .append_pair("nonce", &flow.nonce)
            .append_pair("code_challenge", &pkce_challenge(&flow.verifier))
            .append_pair("code_challenge_method", "S256")
            .append_pair("acr_values", acr)
            .append_pair("claims", CLAIMS);
        if acr != DEFAULT_ACR {
            // Asking again for a second factor: the provider must authenticate anew.
            url.query_pairs_mut().append_pair("prompt", "login");
        }
        Ok((url.into(), flow))
    }

    /// Exchanges the code, verifies the id_token and the userinfo JWT, and returns the identity.
    pub async fn finish(
        &self,
        flow: &PendingFlow,
        code: &str,
        redirect_uri: &str,
    ) -> Result<VerifiedIdentity, ProConnectError> {
        let provider = self.provider(false).await?;
        let tokens = self
            .exchange(&provider.metadata, flow, code, redirect_uri)
            .await?;

        let (id_claims, provider) = self
            .verify_jwt::<IdClaims>(provider, &tokens.id_token, true)
            .await
            .map_err(ProConnectError::IdToken)?;
        match id_claims.nonce.as_deref() {
            Some(nonce) if same(nonce, &flow.nonce) => {}
            Some(_) => return Err(ProConnectError::IdToken("nonce différent".into())),
            None => return Err(ProConnectError::IdToken("nonce absent".into())),
        }
        if let Some(azp) = id_claims.azp.as_deref()
            && azp != self.settings.client_id
        {
            return Err(ProConnectError::IdToken("azp différent du client".into()));
        }
        let amr = match id_claims.amr {
            Some(serde_json::Value::Array(values)) => values
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Some(serde_json::Value::String(value)) => vec![value],
            _ => vec![],
        };

        let info = self.userinfo(provider, &tokens.access_token).await?;
        if info.sub != id_claims.sub {
            return Err(ProConnectError::UserInfo(
                "sub différent de celui de l'id_token".into(),
            ));
        }
        let email = info
            .email
            .as_deref()
            .map(crate::mail::normalize_address)
            .filter(|e| crate::mail::is_valid_address(e))
            .ok_or_else(|| ProConnectError::UserInfo("e-mail absent ou invalide".into()))?;
        Ok(VerifiedIdentity {
            email,
            sub: id_claims.sub,
            siret: text_claim(info.siret),
            idp_id: text_claim(info.idp_id),
            amr,
            acr: id_claims.acr,
            given_name: info.given_name,
            usual_name: info.usual_name,
            id_token: tokens.id_token,
        })
    }

    async fn exchange(
        &self,
        metadata: &Metadata,
        flow: &PendingFlow,
        code: &str,
        redirect_uri: &str,
    ) -> Result<TokenResponse, ProConnectError> {
        let basic_only = metadata
            .token_endpoint_auth_methods_supported
            .as_ref()
            .is_some_and(|m| {
                !m.iter().any(|x| x == "client_secret_post")
                    && m.iter().any(|x| x == "client_secret_basic")
            });
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_verifier", &flow.verifier);
        let mut request = self
            .http
            .post(&metadata.token_endpoint)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            );
        if basic_only {
            request = request.basic_auth(
                &self.settings.client_id,
                Some(self.settings.client_secret.expose()),
            );
        } else {
            form.append_pair("client_id", &self.settings.client_id)
                .append_pair("client_secret", self.settings.client_secret.expose());
        }
        let response =
            request.body(form.finish()).send().await.map_err(|e| {
                ProConnectError::Unavailable(format!("jeton : {}", e.without_url()))
            })?;
        let status = response.status();
        if status.is_client_error() {
            // Only the OAuth error code is kept: it is a short fixed word, never a secret.
            let error = response
                .json::<TokenError>()
                .await
                .map(|e| e.error)
                .unwrap_or_default();
            let error: String = error
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(40)
                .collect();
            return Err(ProConnectError::CodeRefused(format!(
                "statut {} ({error})",
                status.as_u16()
            )));
        }
        if !status.is_success() {
            return Err(ProConnectError::Unavailable(format!(
                "jeton : statut {}",
                status.as_u16()
            )));
        }
        response
            .json::<TokenResponse>()
            .await
            .map_err(|_| ProConnectError::Unavailable("réponse du jeton illisible".into()))
    }

    async fn userinfo(
        &self,
        provider: Provider,
        access_token: &str,
    ) -> Result<UserInfoClaims, ProConnectError> {
        let response = self
            .http
            .get(&provider.metadata.userinfo_endpoint)
            .bearer_auth(access_token)
            .header(reqwest::header::ACCEPT, "application/jwt")
            .send()
            .await
            .map_err(|e| ProConnectError::Unavailable(format!("userinfo : {}", e.without_url())))?;
        if !response.status().is_success() {
            return Err(ProConnectError::Unavailable(format!(
                "userinfo : statut {}",
                response.status().as_u16()
            )));
        }
        let is_jwt = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.trim().starts_with("application/jwt"));
        if !is_jwt {
            return Err(ProConnectError::UserInfo(
                "réponse non signée (application/jwt attendu)".into(),
            ));
        }
        let body = response
            .text()
            .await
            .map_err(|_| ProConnectError::Unavailable("userinfo illisible".into()))?;
        let (claims, _) = self
            .verify_jwt::<UserInfoClaims>(provider, body.trim(), false)
            .await
            .map_err(ProConnectError::UserInfo)?;
        Ok(claims)
    }

    /// Verifies a JWT signed by the provider: algorithm, key from the JWKS (fetched again once
    /// for an unknown key id), signature, issuer, audience and expiry (`exp` required for an
    /// id_token, checked when present otherwise).
    async fn verify_jwt<T: DeserializeOwned>(
        &self,
        provider: Provider,
        token: &str,
        exp_required: bool,
    ) -> Result<(T, Provider), String> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| format!("en-tête illisible ({e})"))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(format!("algorithme {:?} refusé", header.alg));
        }
        let provider = if find_key(&provider.keys, header.kid.as_deref(), header.alg).is_some() {
            provider
        } else {
            // A key id we do not know: the provider may have rotated its keys.
            self.provider(true).await.map_err(|e| e.to_string())?
        };
        let jwk = find_key(&provider.keys, header.kid.as_deref(), header.alg)
            .ok_or_else(|| "clé de signature inconnue".to_owned())?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("clé illisible ({e})"))?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_issuer(&[&provider.metadata.issuer]);
        validation.set_audience(&[&self.settings.client_id]);
        let mut required = vec!["iss", "aud", "sub"];
        if exp_required {
            required.push("exp");
        }
        validation.set_required_spec_claims(&required);
        let data =
            jsonwebtoken::decode::<T>(token, &key, &validation).map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                    "signature invalide".to_owned()
                }
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => "expiré".to_owned(),
                jsonwebtoken::errors::ErrorKind::InvalidIssuer => "émetteur différent".to_owned(),
                jsonwebtoken::errors::ErrorKind::InvalidAudience => {
                    "audience différente".to_owned()
                }
                other => format!("{other:?}"),
            })?;
        Ok((data.claims, provider))
    }

    /// Where to send the browser to end the ProConnect session, when the provider has an
    /// end-session endpoint.
    pub async fn end_session_url(
        &self,
        id_token: &str,
        state: &str,
        post_logout_redirect_uri: &str,
    ) -> Result<Option<String>, ProConnectError> {
        let provider = self.provider(false).await?;
        let Some(endpoint) = provider.metadata.end_session_endpoint.as_deref() else {
            return Ok(None);
        };
        let mut url = url::Url::parse(endpoint).map_err(|_| {
            ProConnectError::Unavailable("end_session_endpoint n'est pas une URL".into())
        })?;
        url.query_pairs_mut()
            .append_pair("id_token_hint", id_token)
            .append_pair("state", state)
            .append_pair("post_logout_redirect_uri", post_logout_redirect_uri);
        Ok(Some(url.into()))
    }
}

/// The key for a token: by `kid`, or the only key of the right type when there is no `kid`;
/// a key announcing another algorithm is never used.
fn find_key<'a>(keys: &'a [Jwk], kid: Option<&str>, alg: Algorithm) -> Option<&'a Jwk> {
    let fits = |k: &&Jwk| {
        let alg_ok = k
            .common
            .key_algorithm
            .is_none_or(|ka| format!("{ka:?}") == format!("{alg:?}"));
        let type_ok = matches!(
            (&k.algorithm, alg),
            (
                jsonwebtoken::jwk::AlgorithmParameters::RSA(_),
                Algorithm::RS256
            ) | (
                jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_),
                Algorithm::ES256
            )
        );
        alg_ok && type_ok
    };
    match kid {
        Some(kid) => keys
            .iter()
            .filter(fits)
            .find(|k| k.common.key_id.as_deref() == Some(kid)),
        None => {
            let mut candidates = keys.iter().filter(fits);
            match (candidates.next(), candidates.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            }
        }
    }
}

/// Why a callback's `state` is refused by the server-side record.
#[derive(Debug, PartialEq, Eq)]
pub enum StateError {
    /// Never handed out by this back office (forged).
    Unknown,
    /// Already came back once.
    Used,
    /// Older than [`FLOW_LIFETIME_SECONDS`].
    Expired,
}

fn state_hash(state: &str) -> String {
    Sha256::digest(state.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Records a `state` handed to the provider (its hash only); forgets those older than a day.
pub fn record_state(
    conn: &mut crate::db::DbConnection,
    state: &str,
    now: chrono::NaiveDateTime,
) -> diesel::QueryResult<()> {
    use crate::db::schema::proconnect_states as s;
    use diesel::prelude::*;
    diesel::delete(s::table.filter(s::created_at.lt(now - chrono::Duration::days(1))))
        .execute(conn)?;
    diesel::insert_into(s::table)
        .values((s::state_hash.eq(state_hash(state)), s::created_at.eq(now)))
        .execute(conn)?;
    Ok(())
}

/// Checks a `state` that came back and, with `consume`, marks it used: at most once, even
/// under concurrent callbacks.
pub fn check_state(
    conn: &mut crate::db::DbConnection,
    state: &str,
    now: chrono::NaiveDateTime,
    consume: bool,
) -> diesel::QueryResult<Result<(), StateError>> {
    use crate::db::schema::proconnect_states as s;
    use diesel::prelude::*;
    let hash = state_hash(state);
    let row: Option<(chrono::NaiveDateTime, Option<chrono::NaiveDateTime>)> = s::table
        .find(&hash)
        .select((s::created_at, s::used_at))
        .first(conn)
        .optional()?;
    let Some((created_at, used_at)) = row else {
        return Ok(Err(StateError::Unknown));
    };
    if used_at.is_some() {
        return Ok(Err(StateError::Used));
    }
    if now - created_at > chrono::Duration::seconds(FLOW_LIFETIME_SECONDS) {
        return Ok(Err(StateError::Expired));
    }
    if !consume {
        return Ok(Ok(()));
    }
    let won = diesel::update(s::table.find(&hash).filter(s::used_at.is_null()))
        .set(s::used_at.eq(Some(now)))
        .execute(conn)?;
    Ok(if won == 1 {
        Ok(())
    } else {
        Err(StateError::Used)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_matches_rfc_7636_example() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn text_claims_accept_strings_and_numbers() {
        assert_eq!(
            text_claim(Some(serde_json::json!("13002526500013"))).as_deref(),
            Some("13002526500013")
        );
        assert_eq!(
            text_claim(Some(serde_json::json!(42))).as_deref(),
            Some("42")
        );
        assert_eq!(text_claim(Some(serde_json::json!(" "))), None);
        assert_eq!(text_claim(None), None);
    }

    #[test]
    fn constant_time_comparison() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
    }
}
