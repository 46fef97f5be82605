//! Client of DataPass's pull API v1, to reconcile the mirror: an OAuth2 *client credentials*
//! token (`POST {api}/oauth/token`, form body), cached until shortly before it expires, then
//! `GET {api}/demandes?limit=&offset=` page after page until a short page.
//!
//! Every failure is a [`DataPassError`] with a one-line French message; neither the client
//! secret nor the access token appears in a message, a log line or a `Debug` output. Redirects
//! are not followed (the token would go with them).

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Mutex;

use crate::config::Secret;

/// Largest page asked for (DataPass's maximum).
pub const MAX_PAGE_SIZE: usize = 1000;

/// Largest answer read.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// How to reach the pull API.
#[derive(Clone, Debug)]
pub struct DataPassApiConfig {
    /// Base of the API, e.g. `https://datapass.api.gouv.fr/api/v1` (no trailing slash).
    pub api_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Timeout of each request, connection and body included.
    pub timeout: Duration,
}

/// Why a call to DataPass failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DataPassError {
    /// DataPass could not be reached, did not answer in time or failed (5xx).
    #[error("DataPass est injoignable : {0}")]
    Unreachable(String),
    /// DataPass refused the client credentials or the token.
    #[error(
        "DataPass refuse le client (HTTP {0}) : vérifiez DATAPASS_CLIENT_ID et DATAPASS_CLIENT_SECRET"
    )]
    Unauthorized(u16),
    /// DataPass refused the request.
    #[error("DataPass a refusé la requête (HTTP {status}) : {message}")]
    Rejected { status: u16, message: String },
    /// An answer that cannot be read.
    #[error("réponse de DataPass illisible : {0}")]
    InvalidResponse(String),
}

/// The pull API client. Cheap to share behind an `Arc`.
pub struct DataPassClient {
    http: reqwest::Client,
    config: DataPassApiConfig,
    token: Mutex<Option<(String, Instant)>>,
}

impl std::fmt::Debug for DataPassClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataPassClient")
            .field("api_url", &self.config.api_url)
            .finish_non_exhaustive()
    }
}

fn transport_error(e: &reqwest::Error) -> DataPassError {
    let what = if e.is_timeout() {
        "délai d'attente dépassé".to_owned()
    } else if e.is_connect() {
        "connexion impossible".to_owned()
    } else {
        // The URL carries no secret (the token travels in a header).
        e.to_string()
    };
    DataPassError::Unreachable(what)
}

/// The `detail` or `title` of DataPass's `{"errors": [...]}`, or a short excerpt.
fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let from_errors = parsed.as_ref().and_then(|v| {
        v.get("errors")?
            .as_array()?
            .iter()
            .filter_map(|e| {
                e.get("detail")
                    .or_else(|| e.get("title"))
                    .and_then(Value::as_str)
            })
            .next()
            .map(str::to_owned)
    });
    from_errors.unwrap_or_else(|| body.chars().take(200).collect())
}

impl DataPassClient {
    /// A client; fails only if the TLS stack cannot start.
    pub fn new(config: DataPassApiConfig) -> anyhow::Result<DataPassClient> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("qf-backoffice (API Particulier)")
            .build()?;
        Ok(DataPassClient {
            http,
            config,
            token: Mutex::new(None),
        })
    }

    async fn read_body(response: reqwest::Response) -> Result<String, DataPassError> {
        if response
            .content_length()
            .is_some_and(|l| l > MAX_BODY_BYTES as u64)
        {
            return Err(DataPassError::InvalidResponse("réponse trop grande".into()));
        }
        let bytes = response.bytes().await.map_err(|e| transport_error(&e))?;
        if bytes.len() > MAX_BODY_BYTES {
            return Err(DataPassError::InvalidResponse("réponse trop grande".into()));
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A valid access token, asked for once and kept until a minute before it expires.
    async fn token(&self) -> Result<String, DataPassError> {
        let mut cached = self.token.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let response = self
            .http
            .post(format!("{}/oauth/token", self.config.api_url))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.config.client_id.as_str()),
                ("client_secret", self.config.client_secret.expose()),
            ])
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = response.status().as_u16();
        let body = Self::read_body(response).await?;
        match status {
            200..=299 => {}
            400 | 401 | 403 => return Err(DataPassError::Unauthorized(status)),
            500.. => {
                return Err(DataPassError::Unreachable(format!(
                    "HTTP {status} au jeton"
                )));
            }
            _ => {
                return Err(DataPassError::Rejected {
                    status,
                    message: error_message(&body),
                });
            }
        }
        let value: Value = serde_json::from_str(&body)
            .map_err(|_| DataPassError::InvalidResponse("jeton : JSON attendu".into()))?;
        let token = value
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| DataPassError::InvalidResponse("jeton : access_token absent".into()))?
            .to_owned();
        let lifetime = value
            .get("expires_in")
            .and_then(Value::as_u64)
            .unwrap_or(300)
            .clamp(60, 24 * 3600);
        let until = Instant::now() + Duration::from_secs(lifetime.saturating_sub(60).max(30));
        *cached = Some((token.clone(), until));
        Ok(token)
    }

    /// One page of demandes (newest first), `limit` from 1 to 1000.
    pub async fn demandes_page(
        &self,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<Value>, DataPassError> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE);
        let mut retried = false;
        loop {
            let token = self.token().await?;
            let response = self
                .http
                .get(format!(
                    "{}/demandes?limit={limit}&offset={offset}",
                    self.config.api_url
                ))
                .bearer_auth(&token)
                .header("Accept", "application/json")
                .send()
                .await
                .map_err(|e| transport_error(&e))?;
            let status = response.status().as_u16();
            if status == 401 && !retried {
                // The token may have been revoked early: ask for a new one, once.
                *self.token.lock().await = None;
                retried = true;
                continue;
            }
            let body = Self::read_body(response).await?;
            return match status {
                200..=299 => match serde_json::from_str::<Value>(&body) {
                    Ok(Value::Array(items)) => Ok(items),
                    _ => Err(DataPassError::InvalidResponse(
                        "/demandes : une liste JSON était attendue".into(),
                    )),
                },
                401 | 403 => Err(DataPassError::Unauthorized(status)),
                500.. => Err(DataPassError::Unreachable(format!("HTTP {status}"))),
                _ => Err(DataPassError::Rejected {
                    status,
                    message: error_message(&body),
                }),
            };
        }
    }

    /// Every demande the client may read, page after page until a short page.
    pub async fn all_demandes(&self, page_size: usize) -> Result<Vec<Value>, DataPassError> {
        let page_size = page_size.clamp(1, MAX_PAGE_SIZE);
        let mut all = Vec::new();
        loop {
            let page = self.demandes_page(page_size, all.len()).await?;
            let short = page.len() < page_size;
            all.extend(page);
            if short {
                return Ok(all);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_come_from_datapass_errors_or_an_excerpt() {
        assert_eq!(
            error_message(
                r#"{"errors":[{"status":"422","title":"Invalide","detail":"limit trop grand"}]}"#
            ),
            "limit trop grand"
        );
        assert_eq!(error_message(&"x".repeat(500)).len(), 200);
    }
}
