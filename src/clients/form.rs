//! Client of the formulaire QF's API: activating a collectivité in the form's own database
//! (`POST /api/collectivites`, private, bearer key) and telling whether its form is online
//! (`GET /api/collectivites/{code_cog}`, public).
//!
//! Errors say whether to retry ([`FormError::is_retryable`]): 5xx, 408, 429, timeouts and
//! connection errors are outages; 422 and other 4xx are refusals shown to staff. The key never
//! appears in a message, a log line or a `Debug` output.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Secret;

/// Longest excerpt of an answer quoted in an error message, in characters.
const MAX_MESSAGE_CHARS: usize = 300;

/// What the form is told about a collectivité.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCollectivite {
    pub siret: String,
    pub code_cog: String,
    pub departement: String,
    pub name: String,
    /// Always `active`.
    pub status: String,
    /// The DataPass `service_provider.id` of the éditeur, or null.
    pub editor: Option<String>,
}

/// How an activation succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activated {
    /// 201: the form now knows the collectivité.
    Created,
    /// 409: it already did (the form never updates an existing row).
    AlreadyThere,
}

/// Why a call to the form failed. Messages are in French and never hold the key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// No key: nothing was asked.
    #[error("La clé de l'API du formulaire QF (FORM_API_KEY) n'est pas configurée.")]
    NotConfigured,
    /// Timeout, connection error, 5xx, 408 or 429: try again later.
    #[error("Le formulaire QF est indisponible : {0}")]
    Unavailable(String),
    /// 422 or another 4xx: the same request will be refused again.
    #[error("Le formulaire QF a refusé l'activation (HTTP {status}) : {message}")]
    Rejected { status: u16, message: String },
    /// An answer that cannot be read.
    #[error("Réponse du formulaire QF illisible : {0}")]
    InvalidResponse(String),
    /// The back office lacks something the form needs: nothing was sent.
    #[error("Activation impossible : {0}")]
    Incomplete(String),
}

impl FormError {
    /// Whether the same call may succeed later (only outages are).
    pub fn is_retryable(&self) -> bool {
        matches!(self, FormError::Unavailable(_))
    }
}

/// The formulaire QF client; cheap to clone.
#[derive(Clone)]
pub struct FormClient {
    http: reqwest::Client,
    base: String,
    key: Option<Secret>,
    timeout: Duration,
}

impl std::fmt::Debug for FormClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FormClient")
            .field("base", &self.base)
            .field("key", &self.key.as_ref().map(|_| "***"))
            .finish()
    }
}

/// An active collectivité as the public API lists it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct LiveCollectivite {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub siret: Option<String>,
    #[serde(default)]
    pub code_cog: Option<String>,
}

impl FormClient {
    /// A client of the API at `base` (no trailing slash), with the private key if any.
    pub fn new(base: &str, key: Option<Secret>, timeout: Duration) -> FormClient {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("qf-backoffice/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        FormClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
            key,
            timeout,
        }
    }

    /// The timeout of each call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether activations can be sent (a key is configured).
    pub fn can_activate(&self) -> bool {
        self.key.is_some()
    }

    /// `POST {base}/api/collectivites`: 201 and 409 are success.
    pub async fn activate(&self, collectivite: &NewCollectivite) -> Result<Activated, FormError> {
        let key = self.key.as_ref().ok_or(FormError::NotConfigured)?;
        let response = self
            .http
            .post(format!("{}/api/collectivites", self.base))
            .bearer_auth(key.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .json(collectivite)
            .send()
            .await
            .map_err(|e| FormError::Unavailable(transport_reason(&e)))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| FormError::Unavailable(transport_reason(&e)))?;
        let code = status.as_u16();
        match code {
            201 | 200 => Ok(Activated::Created),
            409 => Ok(Activated::AlreadyThere),
            408 | 429 | 500..=599 => Err(FormError::Unavailable(format!(
                "erreur HTTP {code}{}",
                suffix(&excerpt(&body, key.expose()))
            ))),
            400..=499 => Err(FormError::Rejected {
                status: code,
                message: refusal_message(&body, key.expose()),
            }),
            _ => Err(FormError::InvalidResponse(format!(
                "statut inattendu (HTTP {code})."
            ))),
        }
    }

    /// `GET {base}/api/collectivites/{code_cog}`: the collectivité when the form serves it,
    /// None on 404.
    pub async fn live(&self, code_cog: &str) -> Result<Option<LiveCollectivite>, FormError> {
        let mut url = url::Url::parse(&format!("{}/api/collectivites", self.base))
            .map_err(|_| FormError::InvalidResponse("URL du formulaire invalide.".to_owned()))?;
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.push(code_cog.trim());
        }
        let response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| FormError::Unavailable(transport_reason(&e)))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| FormError::Unavailable(transport_reason(&e)))?;
        match status.as_u16() {
            200 => serde_json::from_slice(&body)
                .map(Some)
                .map_err(|_| FormError::InvalidResponse("JSON inattendu.".to_owned())),
            404 => Ok(None),
            code @ (408 | 429 | 500..=599) => {
                Err(FormError::Unavailable(format!("erreur HTTP {code}.")))
            }
            code => Err(FormError::InvalidResponse(format!(
                "statut inattendu (HTTP {code})."
            ))),
        }
    }
}

fn transport_reason(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "le formulaire n'a pas répondu à temps.".to_owned()
    } else if error.is_connect() {
        "le formulaire est injoignable.".to_owned()
    } else {
        "échange avec le formulaire interrompu.".to_owned()
    }
}

/// The reason of a refusal: the `errors`/`error`/`message` fields of a JSON body, or the
/// body as text.
fn refusal_message(body: &str, key: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let from_json = parsed.as_ref().and_then(|v| {
        let mut parts = Vec::new();
        collect_messages(v, &mut parts);
        (!parts.is_empty()).then(|| parts.join(" ; "))
    });
    let text = from_json.unwrap_or_else(|| body.to_owned());
    let text = excerpt(&text, key);
    if text.is_empty() {
        "aucun motif donné.".to_owned()
    } else {
        text
    }
}

fn collect_messages(value: &serde_json::Value, parts: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => parts.push(s.clone()),
        serde_json::Value::Array(items) => {
            for item in items {
                collect_messages(item, parts);
            }
        }
        serde_json::Value::Object(map) => {
            for (field, inner) in map {
                match inner {
                    serde_json::Value::String(s) if field == "error" || field == "message" => {
                        parts.push(s.clone());
                    }
                    serde_json::Value::String(s) => parts.push(format!("{field} : {s}")),
                    serde_json::Value::Array(items)
                        if items.iter().all(serde_json::Value::is_string) =>
                    {
                        let joined: Vec<&str> =
                            items.iter().filter_map(serde_json::Value::as_str).collect();
                        if field == "errors" {
                            parts.push(joined.join(", "));
                        } else {
                            parts.push(format!("{field} : {}", joined.join(", ")));
                        }
                    }
                    other => collect_messages(other, parts),
                }
            }
        }
        _ => {}
    }
}

fn excerpt(text: &str, key: &str) -> String {
    let mut text = text.trim().to_owned();
    if !key.is_empty() {
        text = text.replace(key, "***");
    }
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn suffix(text: &str) -> String {
    if text.is_empty() {
        ".".to_owned()
    } else {
        format!(" : {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_quote_the_reasons_without_the_key() {
        assert_eq!(
            refusal_message(r#"{"errors": {"code_cog": ["is invalid"]}}"#, "k"),
            "code_cog : is invalid"
        );
        assert_eq!(
            refusal_message(r#"{"error": "Invalid siret"}"#, "k"),
            "Invalid siret"
        );
        assert_eq!(
            refusal_message("mauvaise clé sekret", "sekret"),
            "mauvaise clé ***"
        );
        assert_eq!(refusal_message("  ", "k"), "aucun motif donné.");
    }

    #[test]
    fn only_outages_are_retryable() {
        assert!(FormError::Unavailable("x".into()).is_retryable());
        assert!(
            !FormError::Rejected {
                status: 422,
                message: "x".into()
            }
            .is_retryable()
        );
        assert!(!FormError::NotConfigured.is_retryable());
        let client = FormClient::new(
            "https://f.example",
            Some(Secret::new("sekret")),
            Duration::from_secs(1),
        );
        assert!(!format!("{client:?}").contains("sekret"));
    }
}
