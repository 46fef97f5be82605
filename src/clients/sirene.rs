//! Client of the INSEE Sirene API (v3.11): looks an establishment up by SIRET.
//!
//! The client never fails: an unconfigured API, an unknown SIRET, an outage, a timeout or an
//! unreadable answer are all values of [`SireneLookup`], so a page can always be shown with
//! « Sirene indisponible » instead of an error. The API key is only ever put in the request
//! header: it is neither logged nor printed by `Debug`.

use std::time::Duration;

use serde::Deserialize;

use crate::domain::checks::SireneFact;

/// How long a lookup may take, connection and body included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The header carrying the API key on the INSEE API portal.
pub const API_KEY_HEADER: &str = "X-INSEE-Api-Key-Integration";

/// Largest answer read; an establishment is a few kilobytes.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The value Sirene puts in fields of non-diffusible units.
const NOT_DIFFUSIBLE: &str = "[ND]";

/// An establishment as Sirene describes it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Establishment {
    pub siret: String,
    /// The legal unit's name (`denominationUniteLegale`).
    pub name: Option<String>,
    /// The commune's INSEE code (COG).
    pub commune_code: Option<String>,
    pub postal_code: Option<String>,
    /// Whether the current period is active (`A`) rather than closed (`F`).
    pub active: bool,
}

/// The outcome of a lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SireneLookup {
    /// No base URL is configured: nothing was asked.
    NotConfigured,
    /// Sirene knows the establishment.
    Found(Establishment),
    /// Sirene does not know this SIRET (or it is not 14 digits).
    NotFound,
    /// Sirene could not answer; the reason is short and in French.
    Unavailable(String),
}

/// A Sirene client; cheap to clone.
#[derive(Clone)]
pub struct SireneClient {
    http: reqwest::Client,
    base_url: Option<String>,
    api_key: Option<String>,
    timeout: Duration,
}

impl std::fmt::Debug for SireneClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SireneClient")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl SireneClient {
    /// A client for the API at `base_url` (e.g. `https://api.insee.fr/api-sirene/3.11`),
    /// sending `api_key` when set. Blank values count as absent.
    pub fn new(base_url: Option<String>, api_key: Option<String>) -> SireneClient {
        let base_url = base_url
            .map(|url| url.trim().trim_end_matches('/').to_owned())
            .filter(|url| !url.is_empty());
        let api_key = api_key
            .map(|key| key.trim().to_owned())
            .filter(|key| !key.is_empty());
        SireneClient {
            http: build_http(DEFAULT_TIMEOUT),
            base_url,
            api_key,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The same client with another timeout (tests use a short one).
    pub fn with_timeout(self, timeout: Duration) -> Self {
        SireneClient {
            http: build_http(timeout),
            timeout,
            ..self
        }
    }

    /// Whether a base URL is configured.
    pub fn is_configured(&self) -> bool {
        self.base_url.is_some()
    }

    /// Looks `siret` up (`GET {base}/siret/{siret}`). Whitespace in `siret` is ignored; a value
    /// that is not 14 digits is `NotFound` without asking Sirene (which would answer 400).
    pub async fn lookup(&self, siret: &str) -> SireneLookup {
        let Some(base_url) = &self.base_url else {
            return SireneLookup::NotConfigured;
        };
        let siret: String = siret.chars().filter(|c| !c.is_whitespace()).collect();
        if siret.len() != 14 || !siret.bytes().all(|b| b.is_ascii_digit()) {
            return SireneLookup::NotFound;
        }
        let Some(url) = lookup_url(base_url, &siret) else {
            tracing::warn!(base_url = %base_url, "URL de l'API Sirene invalide");
            return SireneLookup::Unavailable("L'adresse de l'API Sirene est invalide.".to_owned());
        };
        let outcome = self.fetch(url, &siret).await;
        if let SireneLookup::Unavailable(reason) = &outcome {
            tracing::warn!(siret = %siret, reason = %reason, "Sirene indisponible");
        }
        outcome
    }

    async fn fetch(&self, url: url::Url, siret: &str) -> SireneLookup {
        let mut request = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(key) = &self.api_key {
            request = request.header(API_KEY_HEADER, key);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return SireneLookup::Unavailable(transport_reason(&error)),
        };
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return SireneLookup::NotFound;
        }
        if !status.is_success() {
            return SireneLookup::Unavailable(status_reason(status));
        }
        let body = match read_limited(response).await {
            Ok(body) => body,
            Err(reason) => return SireneLookup::Unavailable(reason),
        };
        match parse_establishment(&body, siret) {
            Some(establishment) => SireneLookup::Found(establishment),
            None => SireneLookup::Unavailable("Réponse de Sirene illisible.".to_owned()),
        }
    }
}

fn build_http(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        // The API key must never follow a redirection to another host.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("qf-backoffice/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// `{base}/siret/{siret}`, keeping any path the base URL has.
fn lookup_url(base_url: &str, siret: &str) -> Option<url::Url> {
    let mut url = url::Url::parse(base_url).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    url.path_segments_mut()
        .ok()?
        .pop_if_empty()
        .push("siret")
        .push(siret);
    Some(url)
}

fn transport_reason(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "Sirene n'a pas répondu à temps.".to_owned()
    } else if error.is_connect() {
        "Sirene est injoignable.".to_owned()
    } else {
        "Échange avec Sirene interrompu.".to_owned()
    }
}

fn status_reason(status: reqwest::StatusCode) -> String {
    let code = status.as_u16();
    match code {
        401 | 403 => format!("Sirene refuse l'accès (HTTP {code}) : vérifier la clé d'API."),
        429 => format!("Sirene limite le nombre de requêtes (HTTP {code})."),
        _ => format!("Sirene a répondu par une erreur (HTTP {code})."),
    }
}

async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err("Réponse de Sirene trop volumineuse.".to_owned());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(error) => return Err(transport_reason(&error)),
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    etablissement: RawEstablishment,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEstablishment {
    siret: Option<String>,
    unite_legale: Option<RawLegalUnit>,
    adresse_etablissement: Option<RawAddress>,
    #[serde(default)]
    periodes_etablissement: Vec<RawPeriod>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLegalUnit {
    denomination_unite_legale: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAddress {
    code_commune_etablissement: Option<String>,
    code_postal_etablissement: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPeriod {
    etat_administratif_etablissement: Option<String>,
    date_fin: Option<String>,
}

/// Reads an establishment from a Sirene answer; None when the JSON does not have the
/// expected shape or the administrative state cannot be told.
fn parse_establishment(body: &[u8], requested_siret: &str) -> Option<Establishment> {
    let envelope: Envelope = serde_json::from_slice(body).ok()?;
    let raw = envelope.etablissement;
    let current = raw
        .periodes_etablissement
        .iter()
        .find(|period| period.date_fin.is_none())
        .or_else(|| raw.periodes_etablissement.first())?;
    let active = match current.etat_administratif_etablissement.as_deref()?.trim() {
        "A" => true,
        "F" => false,
        _ => return None,
    };
    let address = raw.adresse_etablissement;
    Some(Establishment {
        siret: clean(raw.siret).unwrap_or_else(|| requested_siret.to_owned()),
        name: clean(raw.unite_legale.and_then(|u| u.denomination_unite_legale)),
        commune_code: clean(
            address
                .as_ref()
                .and_then(|a| a.code_commune_etablissement.clone()),
        ),
        postal_code: clean(address.and_then(|a| a.code_postal_etablissement)),
        active,
    })
}

/// Trims a field; blank and non-diffusible values become None.
fn clean(value: Option<String>) -> Option<String> {
    let value = value?.trim().to_owned();
    (!value.is_empty() && value != NOT_DIFFUSIBLE).then_some(value)
}

impl From<&SireneLookup> for SireneFact {
    fn from(lookup: &SireneLookup) -> SireneFact {
        match lookup {
            SireneLookup::NotConfigured => SireneFact::NotConfigured,
            SireneLookup::Found(establishment) if establishment.active => SireneFact::Active {
                name: establishment.name.clone(),
            },
            SireneLookup::Found(_) => SireneFact::Closed,
            SireneLookup::NotFound => SireneFact::NotFound,
            SireneLookup::Unavailable(reason) => SireneFact::Unavailable(reason.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sirene_fact_from_lookup() {
        let establishment = Establishment {
            siret: "21750001600019".to_owned(),
            name: Some("VILLE DE PARIS".to_owned()),
            commune_code: Some("75056".to_owned()),
            postal_code: Some("75004".to_owned()),
            active: true,
        };
        assert_eq!(
            SireneFact::from(&SireneLookup::Found(establishment.clone())),
            SireneFact::Active {
                name: Some("VILLE DE PARIS".to_owned())
            }
        );
        let closed = Establishment {
            active: false,
            ..establishment
        };
        assert_eq!(
            SireneFact::from(&SireneLookup::Found(closed)),
            SireneFact::Closed
        );
        assert_eq!(
            SireneFact::from(&SireneLookup::NotFound),
            SireneFact::NotFound
        );
        assert_eq!(
            SireneFact::from(&SireneLookup::NotConfigured),
            SireneFact::NotConfigured
        );
        assert_eq!(
            SireneFact::from(&SireneLookup::Unavailable("panne".to_owned())),
            SireneFact::Unavailable("panne".to_owned())
        );
    }

    #[test]
    fn builds_the_lookup_url() {
        assert_eq!(
            lookup_url("https://api.insee.fr/api-sirene/3.11", "21750001600019")
                .map(|u| u.to_string()),
            Some("https://api.insee.fr/api-sirene/3.11/siret/21750001600019".to_owned())
        );
        assert_eq!(
            lookup_url("http://127.0.0.1:9000", "21750001600019").map(|u| u.to_string()),
            Some("http://127.0.0.1:9000/siret/21750001600019".to_owned())
        );
        assert_eq!(lookup_url("not a url", "21750001600019"), None);
        assert_eq!(lookup_url("ftp://example.com", "21750001600019"), None);
    }

    #[test]
    fn parses_the_current_period_and_ignores_unknown_fields() {
        let body = br#"{"header": {"statut": 200},
            "etablissement": {"siret": "21750001600019", "nic": "00019",
            "uniteLegale": {"denominationUniteLegale": " VILLE DE PARIS ", "categorieJuridiqueUniteLegale": "7229"},
            "adresseEtablissement": {"codeCommuneEtablissement": "75056", "codePostalEtablissement": "75004"},
            "periodesEtablissement": [
                {"dateFin": "2019-01-01", "etatAdministratifEtablissement": "F"},
                {"dateFin": null, "etatAdministratifEtablissement": "A"}
            ]}}"#;
        assert_eq!(
            parse_establishment(body, "21750001600019"),
            Some(Establishment {
                siret: "21750001600019".to_owned(),
                name: Some("VILLE DE PARIS".to_owned()),
                commune_code: Some("75056".to_owned()),
                postal_code: Some("75004".to_owned()),
                active: true,
            })
        );
    }

    #[test]
    fn falls_back_to_the_first_period_and_missing_fields() {
        let body = br#"{"etablissement": {"uniteLegale": {"denominationUniteLegale": "[ND]"},
            "periodesEtablissement": [
                {"dateFin": "2020-01-01", "etatAdministratifEtablissement": "F"},
                {"dateFin": "2010-01-01", "etatAdministratifEtablissement": "A"}
            ]}}"#;
        assert_eq!(
            parse_establishment(body, "21750001600019"),
            Some(Establishment {
                siret: "21750001600019".to_owned(),
                name: None,
                commune_code: None,
                postal_code: None,
                active: false,
            })
        );
    }

    #[test]
    fn an_answer_without_state_is_unreadable() {
        for body in [
            &br#"{"etablissement": {"siret": "21750001600019"}}"#[..],
            br#"{"etablissement": {"periodesEtablissement": [{"dateFin": null}]}}"#,
            br#"{"etablissement": {"periodesEtablissement": [{"dateFin": null, "etatAdministratifEtablissement": "X"}]}}"#,
            br#"{"etablissements": []}"#,
            b"<html>maintenance</html>",
        ] {
            assert_eq!(parse_establishment(body, "21750001600019"), None);
        }
    }

    #[test]
    fn debug_hides_the_api_key() {
        let client = SireneClient::new(
            Some("https://api.insee.fr/api-sirene/3.11/".to_owned()),
            Some("very-secret-key".to_owned()),
        );
        let printed = format!("{client:?}");
        assert!(!printed.contains("very-secret-key"), "{printed}");
        assert!(printed.contains("***"), "{printed}");
        assert!(client.is_configured());
        assert!(!SireneClient::new(Some("  ".to_owned()), None).is_configured());
    }
}
