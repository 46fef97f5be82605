//! Settings read from the environment and validated at start. Each error names its variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::db::DatabaseLocation;

/// Default SQLite database, relative to the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/qf-backoffice.sqlite";
/// Default listening address.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// Default folder where the DSFR design system is unpacked.
pub const DEFAULT_DSFR_DIR: &str = "data/dsfr";

/// A configuration error: one line, naming the variable at fault.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{variable} : {message}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with it, in French.
    pub message: String,
}

impl ConfigError {
    fn new(variable: &'static str, message: impl Into<String>) -> Self {
        ConfigError {
            variable,
            message: message.into(),
        }
    }
}

/// A secret value: never printed, not even by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Default sender of every e-mail.
pub const DEFAULT_MAIL_FROM: &str = "API Particulier <support@particulier.api.gouv.fr>";
/// Default folder of `.eml` files when no SMTP server is configured.
pub const DEFAULT_MAIL_OUTBOX_DIR: &str = "data/outbox";

/// How e-mail leaves the outbox.
#[derive(Clone, Debug)]
pub struct MailSettings {
    /// `SMTP_URL` (may hold a password); `None` writes `.eml` files instead.
    pub smtp_url: Option<Secret>,
    /// `MAIL_OUTBOX_DIR`: where `.eml` files go without SMTP.
    pub outbox_dir: PathBuf,
    /// `MAIL_FROM`.
    pub from: String,
    /// `MAIL_RETRY_DELAY` (seconds): first retry delay, doubled at each failure.
    pub retry_delay: Duration,
    /// `MAIL_POLL_INTERVAL` (seconds): how often the sender looks for due e-mails.
    pub poll_interval: Duration,
    /// `MAIL_MAX_ATTEMPTS`: failures before an e-mail is marked failed.
    pub max_attempts: i32,
}

/// The validated settings of one run.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Which database, from `DATABASE_URL`.
    pub database: DatabaseLocation,
    /// Listening address, from `BIND` (port 0 picks a free port).
    pub bind: SocketAddr,
    /// The address users reach the back office at, from `PUBLIC_URL`, without trailing slash.
    pub public_url: String,
    /// Where the DSFR package is unpacked, from `DSFR_DIR`.
    pub dsfr_dir: PathBuf,
    /// Whether `serve` may download the DSFR package when it is missing (`DSFR_DOWNLOAD`).
    pub dsfr_download: bool,
    /// Whether `serve` loads the demo data into an empty database (`DEMO_DATA`).
    pub demo_data: bool,
    /// Size of the connection pool (`DATABASE_POOL_SIZE`; 4 on SQLite, two per core between
    /// 4 and 16 on PostgreSQL).
    pub pool_size: u32,
    /// SQL statements slower than this many milliseconds are logged (`SLOW_QUERY_MS`; 0: none).
    pub slow_query_ms: u64,
    /// Page cache of each SQLite connection, in MiB (`SQLITE_CACHE_MIB`, default 8).
    pub sqlite_cache_mib: u32,
    /// `SESSION_KEY` (at least 64 bytes); `None` uses the key kept in the database.
    pub session_key: Option<Secret>,
    /// E-mail delivery.
    pub mail: MailSettings,
    /// `DATAPASS_WEBHOOK_SECRET`: the shared secret DataPass signs webhooks with; without it
    /// the webhook refuses every delivery.
    pub datapass_webhook_secret: Option<Secret>,
    /// `SIRENE_API_URL`: base URL of the Sirene API; without it Sirene checks are "unknown".
    pub sirene_api_url: Option<String>,
    /// `SIRENE_API_KEY`: sent as `X-INSEE-Api-Key-Integration` when set.
    pub sirene_api_key: Option<Secret>,
    /// `FORM_BASE_URL`: the public QF form, without trailing slash; a collectivité's form is
    /// `<base>/collectivites/<SIRET>`.
    pub form_base_url: String,
    /// `FORM_ALLOW_HTTP_LOCALHOST_REDIRECT`: whether the éditeur URL builder accepts an
    /// `http://` `redirect_uri` on `localhost` or `127.0.0.1` (éditeurs' test setups).
    pub form_allow_http_localhost_redirect: bool,
    /// `REMINDER_INTERVAL` (seconds, or with a unit: `15m`, `1h`): how often the in-process
    /// scheduler sweeps renewal reminders.
    pub reminder_interval: Duration,
    /// `SESSION_IDLE_TIMEOUT` (default 12 h): a session unused this long is over.
    pub session_idle_timeout: Duration,
    /// `SESSION_MAX_LIFETIME` (default 24 h): a session is over this long after sign-in,
    /// however active.
    pub session_max_lifetime: Duration,
    /// `TRUSTED_PROXIES`: reverse proxies whose `X-Forwarded-For` gives the client IP.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// How long personal data is kept (`RETENTION_*`) and how often it is purged.
    pub retention: RetentionSettings,
    /// The HubEE API (`HUBEE_AUTH_URL`, `HUBEE_API_URL`, `HUBEE_CLIENT_ID`,
    /// `HUBEE_CLIENT_SECRET`, all or none); `None`: subscriptions are managed by hand.
    pub hubee: Option<HubeeSettings>,
    /// The formulaire QF's private API, used to activate collectivités.
    pub form_api: FormApiSettings,
    /// ProConnect sign-in (`PROCONNECT_ISSUER`, `PROCONNECT_CLIENT_ID`,
    /// `PROCONNECT_CLIENT_SECRET`, all or none); `None`: e-mail links only.
    pub proconnect: Option<ProConnectSettings>,
    /// `DATAPASS_URL` (default `https://datapass.api.gouv.fr`): DataPass's pages for people
    /// (a demande, its instruction page), without trailing slash.
    pub datapass_url: String,
    /// DataPass's pull API (`DATAPASS_API_URL`, `DATAPASS_CLIENT_ID`,
    /// `DATAPASS_CLIENT_SECRET`); `None` without credentials: no reconciliation.
    pub datapass_api: Option<DataPassApiSettings>,
    /// `API_RATE_LIMIT` (default 120): requests per minute each éditeur API key may make
    /// before getting 429.
    pub api_rate_limit: u32,
}

/// How to reach ProConnect, the state's identity federation for professionals.
#[derive(Clone, Debug)]
pub struct ProConnectSettings {
    /// `PROCONNECT_ISSUER`, without trailing slash (e.g. `https://proconnect.gouv.fr/api/v2`);
    /// the discovery document is at `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// `PROCONNECT_MFA_IDPS`: the `idp_id`s of organisations that require a second factor,
    /// comma-separated.
    pub mfa_idps: Vec<String>,
}

/// How to reach DataPass's pull API, and how often to reconcile.
#[derive(Clone, Debug)]
pub struct DataPassApiSettings {
    /// `DATAPASS_API_URL` (default `<DATAPASS_URL>/api/v1`).
    pub api_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// `DATAPASS_TIMEOUT` (default 30 s): each request, body included.
    pub timeout: Duration,
    /// `DATAPASS_SYNC_INTERVAL` (default 1 h).
    pub sync_interval: Duration,
    /// `DATAPASS_PAGE_SIZE` (default 500, at most 1000): demandes asked per page.
    pub page_size: usize,
}

/// Retention periods of personal data, enforced by the purge job.
#[derive(Clone, Debug)]
pub struct RetentionSettings {
    /// `RETENTION_SIGN_IN` (default 30 days): sign-in attempts and links.
    pub sign_in: Duration,
    /// `RETENTION_WEBHOOK_BODIES` (default 90 days): webhook bodies (metadata kept).
    pub webhook_bodies: Duration,
    /// `RETENTION_EMAIL_BODIES` (default 365 days): bodies of sent e-mails (metadata kept).
    pub email_bodies: Duration,
    /// `PURGE_INTERVAL` (default 1 h): how often `serve`'s scheduler purges.
    pub interval: Duration,
}

const DAY: u64 = 86_400;

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            sign_in: Duration::from_secs(30 * DAY),
            webhook_bodies: Duration::from_secs(90 * DAY),
            email_bodies: Duration::from_secs(365 * DAY),
            interval: Duration::from_secs(3600),
        }
    }
}

/// How to reach the formulaire QF's API (`FORM_API_*`).
#[derive(Clone, Debug)]
pub struct FormApiSettings {
    /// `FORM_API_URL` (default `FORM_BASE_URL`), without trailing slash.
    pub url: String,
    /// `FORM_API_KEY`: the bearer key of `POST /api/collectivites`; `None`: no activation
    /// is sent (approvals still queue it, sent once a key is configured).
    pub key: Option<Secret>,
    /// `FORM_API_RETRY_DELAY` (default 30 s): first retry delay, doubled, at most one hour.
    pub retry_delay: Duration,
    /// `FORM_CHECK_INTERVAL` (default 1 h): how often active forms are checked online.
    pub check_interval: Duration,
    /// `FORM_API_TIMEOUT` (default 10 s): timeout of each call.
    pub timeout: Duration,
}

/// How to reach HubEE, and how often to retry and sync.
#[derive(Clone, Debug)]
pub struct HubeeSettings {
    pub auth_url: String,
    pub api_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// `HUBEE_TIMEOUT` (default 10 s).
    pub timeout: Duration,
    /// `HUBEE_RETRY_DELAY` (default 30 s): first retry delay of a failed provisioning,
    /// doubled at each failure, at most one hour.
    pub retry_delay: Duration,
    /// `HUBEE_SYNC_INTERVAL` (default 1 h).
    pub sync_interval: Duration,
}

/// Default public address of the QF form.
pub const DEFAULT_FORM_BASE_URL: &str = "https://quotient-familial.numerique.gouv.fr";

/// DataPass, for people (and the default base of its API).
pub const DEFAULT_DATAPASS_URL: &str = "https://datapass.api.gouv.fr";

impl Settings {
    /// Whether the public address is https (then cookies are `Secure`).
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        let database = parse_database_url(
            get("DATABASE_URL")
                .as_deref()
                .unwrap_or(DEFAULT_DATABASE_URL),
        )?;
        let bind_text = get("BIND").unwrap_or_else(|| DEFAULT_BIND.to_owned());
        let bind: SocketAddr = bind_text.trim().parse().map_err(|_| {
            ConfigError::new(
                "BIND",
                format!(
                    "« {bind_text} » n'est pas une adresse d'écoute valide (attendu IP:port, par exemple 127.0.0.1:8080)"
                ),
            )
        })?;
        let public_url = match get("PUBLIC_URL") {
            Some(value) => parse_http_url("PUBLIC_URL", &value)?,
            None => format!("http://{bind}"),
        };
        let dsfr_dir = PathBuf::from(get("DSFR_DIR").unwrap_or_else(|| DEFAULT_DSFR_DIR.into()));
        let dsfr_download = parse_bool("DSFR_DOWNLOAD", get("DSFR_DOWNLOAD"), true)?;
        // Demo data only when asked, or when no real e-mail can leave (no SMTP server).
        let demo_data = parse_bool("DEMO_DATA", get("DEMO_DATA"), get("SMTP_URL").is_none())?;
        let pool_size = match get("DATABASE_POOL_SIZE") {
            // SQLite reads are CPU work in this process: four connections keep two cores
            // busy, and each keeps a larger page cache warm (see `SQLITE_CACHE_MIB`).
            None if matches!(database, DatabaseLocation::Sqlite(_)) => 4,
            None => postgres_pool_size(
                std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
            ),
            Some(v) => v
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=200).contains(n))
                .ok_or_else(|| {
                    ConfigError::new(
                        "DATABASE_POOL_SIZE",
                        format!("« {v} » n'est pas un nombre entre 1 et 200"),
                    )
                })?,
        };
        let slow_query_ms = match get("SLOW_QUERY_MS") {
            None => 250,
            Some(v) => v.trim().parse::<u64>().ok().ok_or_else(|| {
                ConfigError::new(
                    "SLOW_QUERY_MS",
                    format!("« {v} » n'est pas un nombre de millisecondes"),
                )
            })?,
        };
        let sqlite_cache_mib = match get("SQLITE_CACHE_MIB") {
            None => crate::db::DEFAULT_SQLITE_CACHE_MIB,
            Some(v) => v
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=1024).contains(n))
                .ok_or_else(|| {
                    ConfigError::new(
                        "SQLITE_CACHE_MIB",
                        format!("« {v} » n'est pas un nombre de Mio entre 1 et 1024"),
                    )
                })?,
        };
        let api_rate_limit = match get("API_RATE_LIMIT") {
            None => 120,
            Some(v) => v
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=100_000).contains(n))
                .ok_or_else(|| {
                    ConfigError::new(
                        "API_RATE_LIMIT",
                        format!("« {v} » n'est pas un nombre entre 1 et 100000"),
                    )
                })?,
        };
        let session_key = match lookup("SESSION_KEY") {
            None => None,
            Some(key) if key.len() >= 64 => Some(Secret::new(key)),
            Some(key) => {
                return Err(ConfigError::new(
                    "SESSION_KEY",
                    format!(
                        "la clé doit faire au moins 64 octets ({} fournis) ; laissez-la vide pour qu'une clé soit générée et conservée en base",
                        key.len()
                    ),
                ));
            }
        };
        let smtp_url = match get("SMTP_URL") {
            None => None,
            Some(url) => {
                let parsed = url::Url::parse(url.trim()).map_err(|_| {
                    ConfigError::new(
                        "SMTP_URL",
                        "URL illisible (attendu smtp://hôte:port ou smtps://utilisateur:motdepasse@hôte:465)",
                    )
                })?;
                if !matches!(parsed.scheme(), "smtp" | "smtps") {
                    return Err(ConfigError::new(
                        "SMTP_URL",
                        format!(
                            "schéma « {} » non pris en charge (attendu smtp:// ou smtps://)",
                            parsed.scheme()
                        ),
                    ));
                }
                Some(Secret::new(url.trim()))
            }
        };
        let from = get("MAIL_FROM").unwrap_or_else(|| DEFAULT_MAIL_FROM.to_owned());
        if from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError::new(
                "MAIL_FROM",
                format!("« {from} » n'est pas une adresse d'expéditeur valide"),
            ));
        }
        let mail = MailSettings {
            smtp_url,
            outbox_dir: PathBuf::from(
                get("MAIL_OUTBOX_DIR").unwrap_or_else(|| DEFAULT_MAIL_OUTBOX_DIR.into()),
            ),
            from,
            retry_delay: parse_seconds("MAIL_RETRY_DELAY", get("MAIL_RETRY_DELAY"), 30.0)?,
            poll_interval: parse_seconds("MAIL_POLL_INTERVAL", get("MAIL_POLL_INTERVAL"), 5.0)?,
            max_attempts: match get("MAIL_MAX_ATTEMPTS") {
                None => 10,
                Some(v) => v
                    .trim()
                    .parse::<i32>()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| {
                        ConfigError::new(
                            "MAIL_MAX_ATTEMPTS",
                            format!("« {v} » n'est pas un nombre entre 1 et 100"),
                        )
                    })?,
            },
        };
        let datapass_webhook_secret = match get("DATAPASS_WEBHOOK_SECRET") {
            None => None,
            Some(secret) if secret.len() >= 16 => Some(Secret::new(secret)),
            Some(_) => {
                return Err(ConfigError::new(
                    "DATAPASS_WEBHOOK_SECRET",
                    "le secret doit faire au moins 16 caractères",
                ));
            }
        };
        let sirene_api_url = match get("SIRENE_API_URL") {
            None => None,
            Some(url) => {
                let parsed = url::Url::parse(url.trim()).map_err(|_| {
                    ConfigError::new(
                        "SIRENE_API_URL",
                        format!("« {url} » n'est pas une URL absolue"),
                    )
                })?;
                let loopback =
                    matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
                // The API key travels with every call: https only (plain http on this machine
                // alone, for tests and local stand-ins).
                if parsed.scheme() != "https" && !(parsed.scheme() == "http" && loopback) {
                    return Err(ConfigError::new(
                        "SIRENE_API_URL",
                        "l'URL doit commencer par https:// (http:// n'est accepté que vers localhost ou 127.0.0.1)",
                    ));
                }
                Some(url.trim().trim_end_matches('/').to_owned())
            }
        };
        let sirene_api_key = get("SIRENE_API_KEY").map(Secret::new);
        let reminder_interval = match get("REMINDER_INTERVAL") {
            None => Duration::from_secs(15 * 60),
            Some(v) => parse_interval(&v).ok_or_else(|| {
                ConfigError::new(
                    "REMINDER_INTERVAL",
                    format!("« {v} » n'est pas une durée (par exemple 900, 15m ou 1h ; entre 1 s et 1 jour)"),
                )
            })?,
        };
        let duration = |variable: &'static str, default: u64, min: u64, max: u64| {
            match get(variable) {
                None => Ok(Duration::from_secs(default)),
                Some(v) => parse_long_duration(&v)
                    .filter(|d| (min..=max).contains(&d.as_secs()))
                    .ok_or_else(|| {
                        ConfigError::new(
                            variable,
                            format!(
                                "« {v} » n'est pas une durée valide (par exemple 3600, 12h ou 30d ; entre {} et {})",
                                human_duration(min),
                                human_duration(max)
                            ),
                        )
                    }),
            }
        };
        let session_idle_timeout = duration("SESSION_IDLE_TIMEOUT", 12 * 3600, 60, 30 * DAY)?;
        let session_max_lifetime = duration("SESSION_MAX_LIFETIME", DAY, 60, 30 * DAY)?;
        let retention = RetentionSettings {
            sign_in: duration("RETENTION_SIGN_IN", 30 * DAY, DAY, 3650 * DAY)?,
            webhook_bodies: duration("RETENTION_WEBHOOK_BODIES", 90 * DAY, DAY, 3650 * DAY)?,
            email_bodies: duration("RETENTION_EMAIL_BODIES", 365 * DAY, DAY, 3650 * DAY)?,
            interval: duration("PURGE_INTERVAL", 3600, 60, DAY)?,
        };
        let trusted_proxies = match get("TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|ip| !ip.is_empty())
                .map(|ip| {
                    ip.parse::<std::net::IpAddr>().map_err(|_| {
                        ConfigError::new(
                            "TRUSTED_PROXIES",
                            format!("« {ip} » n'est pas une adresse IP (liste séparée par des virgules, par exemple 10.0.0.2,10.0.0.3)"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let form_base_url = parse_http_url(
            "FORM_BASE_URL",
            get("FORM_BASE_URL")
                .as_deref()
                .unwrap_or(DEFAULT_FORM_BASE_URL),
        )?;
        if form_base_url.contains(['?', '#']) {
            return Err(ConfigError::new(
                "FORM_BASE_URL",
                "l'URL ne doit contenir ni paramètres (?) ni ancre (#)",
            ));
        }
        let form_allow_http_localhost_redirect = parse_bool(
            "FORM_ALLOW_HTTP_LOCALHOST_REDIRECT",
            get("FORM_ALLOW_HTTP_LOCALHOST_REDIRECT"),
            false,
        )?;
        let hubee_vars = [
            "HUBEE_AUTH_URL",
            "HUBEE_API_URL",
            "HUBEE_CLIENT_ID",
            "HUBEE_CLIENT_SECRET",
        ];
        let present: Vec<&str> = hubee_vars
            .iter()
            .copied()
            .filter(|v| get(v).is_some())
            .collect();
        let hubee = if present.is_empty() {
            None
        } else if present.len() < hubee_vars.len() {
            let missing = hubee_vars
                .iter()
                .find(|v| !present.contains(v))
                .copied()
                .unwrap_or("HUBEE_API_URL");
            return Err(ConfigError::new(
                missing,
                "manquante : les quatre variables HUBEE_AUTH_URL, HUBEE_API_URL, HUBEE_CLIENT_ID et HUBEE_CLIENT_SECRET vont ensemble",
            ));
        } else {
            let url_of = |name: &'static str| -> Result<String, ConfigError> {
                parse_service_url(name, &get(name).unwrap_or_default())
            };
            let interval = |name: &'static str, default: u64| -> Result<Duration, ConfigError> {
                match get(name) {
                    None => Ok(Duration::from_secs(default)),
                    Some(v) => parse_interval(&v).ok_or_else(|| {
                        ConfigError::new(
                            name,
                            format!("« {v} » n'est pas une durée (ex. 30, 5m, 1h)"),
                        )
                    }),
                }
            };
            Some(HubeeSettings {
                auth_url: url_of("HUBEE_AUTH_URL")?,
                api_url: url_of("HUBEE_API_URL")?,
                client_id: get("HUBEE_CLIENT_ID").unwrap_or_default(),
                client_secret: Secret::new(get("HUBEE_CLIENT_SECRET").unwrap_or_default()),
                timeout: interval("HUBEE_TIMEOUT", 10)?,
                retry_delay: match get("HUBEE_RETRY_DELAY") {
                    None => Duration::from_secs(30),
                    Some(v) => parse_seconds("HUBEE_RETRY_DELAY", Some(v), 30.0)?,
                },
                sync_interval: interval("HUBEE_SYNC_INTERVAL", 3600)?,
            })
        };
        let form_api_key = get("FORM_API_KEY")
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty());
        let form_api_url = match get("FORM_API_URL") {
            // The key never travels in clear text: the default must pass the same check.
            None if form_api_key.is_some() => parse_service_url("FORM_API_URL", &form_base_url)?,
            None => form_base_url.clone(),
            Some(value) => parse_service_url("FORM_API_URL", &value)?,
        };
        let form_api = FormApiSettings {
            url: form_api_url,
            key: form_api_key.map(Secret::new),
            retry_delay: match get("FORM_API_RETRY_DELAY") {
                None => Duration::from_secs(30),
                Some(v) => parse_seconds("FORM_API_RETRY_DELAY", Some(v), 30.0)?,
            },
            check_interval: match get("FORM_CHECK_INTERVAL") {
                None => Duration::from_secs(3600),
                Some(v) => parse_interval(&v).ok_or_else(|| {
                    ConfigError::new(
                        "FORM_CHECK_INTERVAL",
                        format!("« {v} » n'est pas une durée (ex. 30, 5m, 1h)"),
                    )
                })?,
            },
            timeout: match get("FORM_API_TIMEOUT") {
                None => Duration::from_secs(10),
                Some(v) => parse_interval(&v).ok_or_else(|| {
                    ConfigError::new(
                        "FORM_API_TIMEOUT",
                        format!("« {v} » n'est pas une durée (ex. 10, 30s, 1m)"),
                    )
                })?,
            },
        };
        let proconnect = parse_proconnect(&get)?;
        let datapass_url = parse_service_url(
            "DATAPASS_URL",
            get("DATAPASS_URL")
                .as_deref()
                .unwrap_or(DEFAULT_DATAPASS_URL),
        )?;
        let datapass_api = match (get("DATAPASS_CLIENT_ID"), get("DATAPASS_CLIENT_SECRET")) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "DATAPASS_CLIENT_SECRET",
                    "manquante : DATAPASS_CLIENT_ID et DATAPASS_CLIENT_SECRET vont ensemble",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "DATAPASS_CLIENT_ID",
                    "manquante : DATAPASS_CLIENT_ID et DATAPASS_CLIENT_SECRET vont ensemble",
                ));
            }
            (Some(client_id), Some(secret)) => {
                let api_url = match get("DATAPASS_API_URL") {
                    Some(url) => parse_service_url("DATAPASS_API_URL", &url)?,
                    None => format!("{datapass_url}/api/v1"),
                };
                let duration =
                    |name: &'static str, default: u64| -> Result<Duration, ConfigError> {
                        match get(name) {
                            None => Ok(Duration::from_secs(default)),
                            Some(v) => parse_interval(&v).ok_or_else(|| {
                                ConfigError::new(
                                    name,
                                    format!("« {v} » n'est pas une durée (ex. 30, 5m, 1h)"),
                                )
                            }),
                        }
                    };
                let page_size = match get("DATAPASS_PAGE_SIZE") {
                    None => 500,
                    Some(v) => v
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=1000).contains(n))
                        .ok_or_else(|| {
                            ConfigError::new(
                                "DATAPASS_PAGE_SIZE",
                                format!("« {v} » n'est pas un nombre entre 1 et 1000"),
                            )
                        })?,
                };
                Some(DataPassApiSettings {
                    api_url,
                    client_id: client_id.trim().to_owned(),
                    client_secret: Secret::new(secret),
                    timeout: duration("DATAPASS_TIMEOUT", 30)?,
                    sync_interval: duration("DATAPASS_SYNC_INTERVAL", 3600)?,
                    page_size,
                })
            }
        };
        Ok(Settings {
            form_api,
            database,
            bind,
            public_url,
            dsfr_dir,
            dsfr_download,
            demo_data,
            pool_size,
            slow_query_ms,
            sqlite_cache_mib,
            session_key,
            mail,
            datapass_webhook_secret,
            sirene_api_url,
            sirene_api_key,
            form_base_url,
            form_allow_http_localhost_redirect,
            reminder_interval,
            session_idle_timeout,
            session_max_lifetime,
            trusted_proxies,
            retention,
            hubee,
            proconnect,
            datapass_url,
            datapass_api,
            api_rate_limit,
        })
    }
}

/// The ProConnect variables: all three or none; the issuer in https, or http on loopback.
fn parse_proconnect(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ProConnectSettings>, ConfigError> {
    let vars = [
        "PROCONNECT_ISSUER",
        "PROCONNECT_CLIENT_ID",
        "PROCONNECT_CLIENT_SECRET",
    ];
    let present: Vec<&str> = vars.iter().copied().filter(|v| get(v).is_some()).collect();
    if present.is_empty() {
        return Ok(None);
    }
    if let Some(missing) = vars.iter().find(|v| !present.contains(v)) {
        return Err(ConfigError::new(
            missing,
            "manquante : les trois variables PROCONNECT_ISSUER, PROCONNECT_CLIENT_ID et PROCONNECT_CLIENT_SECRET vont ensemble",
        ));
    }
    let issuer_text = get("PROCONNECT_ISSUER").unwrap_or_default();
    let issuer = url::Url::parse(issuer_text.trim()).map_err(|_| {
        ConfigError::new(
            "PROCONNECT_ISSUER",
            format!("« {issuer_text} » n'est pas une URL absolue"),
        )
    })?;
    let loopback = match issuer.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    let secure = issuer.scheme() == "https" || (issuer.scheme() == "http" && loopback);
    if !secure || issuer.query().is_some() || issuer.fragment().is_some() {
        return Err(ConfigError::new(
            "PROCONNECT_ISSUER",
            "l'URL doit commencer par https:// (http:// seulement sur 127.0.0.1 ou localhost), sans paramètres ni ancre",
        ));
    }
    let mfa_idps = get("PROCONNECT_MFA_IDPS")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(Some(ProConnectSettings {
        issuer: issuer_text.trim().trim_end_matches('/').to_owned(),
        client_id: get("PROCONNECT_CLIENT_ID")
            .unwrap_or_default()
            .trim()
            .to_owned(),
        client_secret: Secret::new(get("PROCONNECT_CLIENT_SECRET").unwrap_or_default()),
        mfa_idps,
    }))
}

/// Parses `DATABASE_URL`: `sqlite://<path>` (or `sqlite:<path>`) or `postgres(ql)://…`.
pub fn parse_database_url(value: &str) -> Result<DatabaseLocation, ConfigError> {
    let value = value.trim();
    let err = |m: String| ConfigError::new("DATABASE_URL", m);
    if value.starts_with("postgres://") || value.starts_with("postgresql://") {
        let parsed =
            url::Url::parse(value).map_err(|e| err(format!("URL PostgreSQL illisible ({e})")))?;
        if parsed.host_str().is_none_or(str::is_empty) && !value.contains("host=") {
            return Err(err("l'URL PostgreSQL doit nommer un hôte".into()));
        }
        return Ok(DatabaseLocation::Postgres(value.to_owned()));
    }
    if let Some(rest) = value.strip_prefix("sqlite:") {
        let path = rest.strip_prefix("//").unwrap_or(rest);
        if path.is_empty() || path == ":memory:" {
            return Err(err(
                "indiquez un fichier SQLite, par exemple sqlite://data/qf-backoffice.sqlite".into(),
            ));
        }
        return Ok(DatabaseLocation::Sqlite(PathBuf::from(path)));
    }
    let scheme = value.split(':').next().unwrap_or_default();
    Err(err(format!(
        "schéma « {scheme} » non pris en charge : utilisez sqlite://<fichier> ou postgres://<utilisateur>@<hôte>/<base>"
    )))
}

/// An absolute http(s) URL (`PUBLIC_URL`, `FORM_BASE_URL`), without trailing slash.
fn parse_http_url(variable: &'static str, value: &str) -> Result<String, ConfigError> {
    let parsed = url::Url::parse(value.trim()).map_err(|e| {
        ConfigError::new(
            variable,
            format!("« {value} » n'est pas une URL absolue ({e})"),
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ConfigError::new(
            variable,
            "l'URL doit commencer par http:// ou https://",
        ));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// An outside service's base URL: `https://`, or `http://` on the loopback interface only
/// (tests and local stand-ins); no credentials, parameters or anchor; no trailing slash.
pub fn parse_service_url(variable: &'static str, value: &str) -> Result<String, ConfigError> {
    let parsed = url::Url::parse(value.trim()).map_err(|e| {
        ConfigError::new(
            variable,
            format!("« {value} » n'est pas une URL absolue ({e})"),
        )
    })?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(ConfigError::new(
                variable,
                "l'URL doit commencer par https:// (http:// seulement sur 127.0.0.1 ou localhost)",
            ));
        }
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ConfigError::new(
            variable,
            "l'URL ne doit pas contenir d'identifiants",
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(ConfigError::new(
            variable,
            "l'URL ne doit contenir ni paramètres (?) ni ancre (#)",
        ));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// A duration as seconds (`900`) or with a unit (`30s`, `15m`, `1h`), between 1 s and 1 day.
fn parse_interval(value: &str) -> Option<Duration> {
    let value = value.trim();
    let (number, unit) = match value.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => value.split_at(i),
        None => (value, "s"),
    };
    let n: u64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "s" => n,
        "m" | "min" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        _ => return None,
    };
    (1..=86_400)
        .contains(&seconds)
        .then(|| Duration::from_secs(seconds))
}

/// A duration as seconds (`3600`) or with a unit (`30s`, `15m`, `12h`, `30d`).
fn parse_long_duration(value: &str) -> Option<Duration> {
    let value = value.trim();
    let (number, unit) = match value.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => value.split_at(i),
        None => (value, "s"),
    };
    let n: u64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" | "j" => DAY,
        _ => return None,
    };
    n.checked_mul(factor).map(Duration::from_secs)
}

fn human_duration(seconds: u64) -> String {
    if seconds.is_multiple_of(DAY) {
        format!("{} j", seconds / DAY)
    } else if seconds.is_multiple_of(3600) {
        format!("{} h", seconds / 3600)
    } else if seconds.is_multiple_of(60) {
        format!("{} min", seconds / 60)
    } else {
        format!("{seconds} s")
    }
}

fn parse_seconds(
    variable: &'static str,
    value: Option<String>,
    default: f64,
) -> Result<Duration, ConfigError> {
    let seconds = match value {
        None => default,
        Some(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s > 0.0 && *s <= 86_400.0)
            .ok_or_else(|| {
                ConfigError::new(
                    variable,
                    format!("« {v} » n'est pas une durée en secondes (entre 0 et 86400)"),
                )
            })?,
    };
    Ok(Duration::from_secs_f64(seconds))
}

fn parse_bool(
    variable: &'static str,
    value: Option<String>,
    default: bool,
) -> Result<bool, ConfigError> {
    match value.as_deref().map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "oui" | "on") => Ok(true),
        Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "non" | "off") => Ok(false),
        Some(v) => Err(ConfigError::new(
            variable,
            format!("« {v} » n'est pas une valeur booléenne (1/0, true/false)"),
        )),
    }
}

/// The PostgreSQL pool's default size for `cores` cores: two connections per core, between 4
/// and 16. Measured at national scale on 2 cores with the database on the same machine, 8
/// connections gave the same rates as 4 but twice the p99 (staff home 44–91 ms against
/// 29–33 ms, webhook 120–204 ms against 84–116 ms): the extra database processes only queue
/// for the cores.
fn postgres_pool_size(cores: usize) -> u32 {
    u32::try_from(cores.saturating_mul(2)).map_or(16, |n| n.clamp(4, 16))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let s = settings(&[]).unwrap();
        assert_eq!(
            s.database,
            DatabaseLocation::Sqlite(PathBuf::from("data/qf-backoffice.sqlite"))
        );
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.public_url, "http://127.0.0.1:8080");
        assert!(s.demo_data);
        assert_eq!(s.session_idle_timeout, Duration::from_secs(12 * 3600));
        assert_eq!(s.session_max_lifetime, Duration::from_secs(24 * 3600));
        assert_eq!(s.retention.sign_in, Duration::from_secs(30 * DAY));
        assert_eq!(s.retention.webhook_bodies, Duration::from_secs(90 * DAY));
        assert_eq!(s.retention.email_bodies, Duration::from_secs(365 * DAY));
        assert!(s.trusted_proxies.is_empty());
    }

    #[test]
    fn demo_data_defaults_to_off_when_real_mail_can_leave() {
        let s = settings(&[("SMTP_URL", "smtp://127.0.0.1:2525")]).unwrap();
        assert!(!s.demo_data);
        let s = settings(&[("SMTP_URL", "smtp://127.0.0.1:2525"), ("DEMO_DATA", "1")]).unwrap();
        assert!(s.demo_data);
    }

    #[test]
    fn session_retention_and_proxy_settings_are_checked() {
        let s = settings(&[
            ("SESSION_IDLE_TIMEOUT", "30m"),
            ("SESSION_MAX_LIFETIME", "7d"),
            ("RETENTION_SIGN_IN", "10d"),
            ("TRUSTED_PROXIES", "10.0.0.2, ::1"),
        ])
        .unwrap();
        assert_eq!(s.session_idle_timeout, Duration::from_secs(1800));
        assert_eq!(s.session_max_lifetime, Duration::from_secs(7 * DAY));
        assert_eq!(s.retention.sign_in, Duration::from_secs(10 * DAY));
        assert_eq!(s.trusted_proxies.len(), 2);
        for (variable, bad) in [
            ("SESSION_IDLE_TIMEOUT", "demain"),
            ("SESSION_MAX_LIFETIME", "0"),
            ("RETENTION_SIGN_IN", "2h"),
            ("TRUSTED_PROXIES", "10.0.0.0/8"),
        ] {
            let error = settings(&[(variable, bad)]).unwrap_err();
            assert_eq!(error.variable, variable);
        }
    }

    #[test]
    fn postgres_and_absolute_sqlite_urls() {
        let s = settings(&[("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/qf")]).unwrap();
        assert_eq!(
            s.database,
            DatabaseLocation::Postgres("postgres://postgres@127.0.0.1:5432/qf".into())
        );
        let s = settings(&[("DATABASE_URL", "sqlite:///tmp/x.sqlite")]).unwrap();
        assert_eq!(
            s.database,
            DatabaseLocation::Sqlite(PathBuf::from("/tmp/x.sqlite"))
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        let e = settings(&[("DATABASE_URL", "mysql://root@localhost/qf")]).unwrap_err();
        assert_eq!(e.variable, "DATABASE_URL");
        assert!(e.to_string().contains("mysql"), "{e}");
        assert_eq!(
            settings(&[("DATABASE_URL", "sqlite://")])
                .unwrap_err()
                .variable,
            "DATABASE_URL"
        );
        assert_eq!(
            settings(&[("BIND", "localhost")]).unwrap_err().variable,
            "BIND"
        );
        assert_eq!(
            settings(&[("PUBLIC_URL", "ftp://x")]).unwrap_err().variable,
            "PUBLIC_URL"
        );
        assert_eq!(
            settings(&[("DEMO_DATA", "peut-être")])
                .unwrap_err()
                .variable,
            "DEMO_DATA"
        );
        assert_eq!(
            settings(&[("SLOW_QUERY_MS", "vite")]).unwrap_err().variable,
            "SLOW_QUERY_MS"
        );
        assert_eq!(settings(&[]).unwrap().slow_query_ms, 250);
        assert_eq!(settings(&[]).unwrap().sqlite_cache_mib, 8);
        assert_eq!(settings(&[]).unwrap().pool_size, 4, "SQLite");
        assert_eq!(
            settings(&[("DATABASE_URL", "postgres://localhost/qf")])
                .unwrap()
                .pool_size,
            postgres_pool_size(
                std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
            )
        );
        assert_eq!(postgres_pool_size(1), 4);
        assert_eq!(postgres_pool_size(2), 4);
        assert_eq!(postgres_pool_size(6), 12);
        assert_eq!(postgres_pool_size(64), 16);
        assert_eq!(
            settings(&[("SQLITE_CACHE_MIB", "32")])
                .unwrap()
                .sqlite_cache_mib,
            32
        );
        assert_eq!(
            settings(&[("SQLITE_CACHE_MIB", "0")]).unwrap_err().variable,
            "SQLITE_CACHE_MIB"
        );
        assert_eq!(
            settings(&[("SLOW_QUERY_MS", "0")]).unwrap().slow_query_ms,
            0
        );
    }

    #[test]
    fn public_url_follows_bind_and_loses_trailing_slash() {
        let s = settings(&[("BIND", "0.0.0.0:9000")]).unwrap();
        assert_eq!(s.public_url, "http://0.0.0.0:9000");
        let s = settings(&[("PUBLIC_URL", "https://qf.example.gouv.fr/")]).unwrap();
        assert_eq!(s.public_url, "https://qf.example.gouv.fr");
    }

    #[test]
    fn form_base_url_and_localhost_redirects() {
        let s = settings(&[]).unwrap();
        assert_eq!(
            s.form_base_url,
            "https://quotient-familial.numerique.gouv.fr"
        );
        assert!(!s.form_allow_http_localhost_redirect);
        let s = settings(&[
            ("FORM_BASE_URL", "https://qf.exemple.gouv.fr/"),
            ("FORM_ALLOW_HTTP_LOCALHOST_REDIRECT", "1"),
        ])
        .unwrap();
        assert_eq!(s.form_base_url, "https://qf.exemple.gouv.fr");
        assert!(s.form_allow_http_localhost_redirect);
        for bad in [
            "quotient-familial.gouv.fr",
            "ftp://x.fr",
            "https://x.fr/?a=1",
        ] {
            let e = settings(&[("FORM_BASE_URL", bad)]).unwrap_err();
            assert_eq!(e.variable, "FORM_BASE_URL", "{bad}");
        }
        assert_eq!(
            settings(&[("FORM_ALLOW_HTTP_LOCALHOST_REDIRECT", "peut-être")])
                .unwrap_err()
                .variable,
            "FORM_ALLOW_HTTP_LOCALHOST_REDIRECT"
        );
    }

    #[test]
    fn secrets_are_validated_and_never_printed() {
        let e = settings(&[("SESSION_KEY", "court")]).unwrap_err();
        assert_eq!(e.variable, "SESSION_KEY");
        let key = "k".repeat(64);
        let s = settings(&[
            ("SESSION_KEY", key.as_str()),
            ("SMTP_URL", "smtps://user:motdepasse@smtp.example.fr:465"),
        ])
        .unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains(&key));
        assert!(!printed.contains("motdepasse"));
        assert_eq!(
            settings(&[("SMTP_URL", "http://x")]).unwrap_err().variable,
            "SMTP_URL"
        );
        assert_eq!(
            settings(&[("MAIL_FROM", "pas une adresse")])
                .unwrap_err()
                .variable,
            "MAIL_FROM"
        );
        assert_eq!(
            settings(&[("MAIL_RETRY_DELAY", "-1")])
                .unwrap_err()
                .variable,
            "MAIL_RETRY_DELAY"
        );
    }

    #[test]
    fn reminder_interval_accepts_units() {
        assert_eq!(
            settings(&[]).unwrap().reminder_interval,
            Duration::from_secs(900)
        );
        assert_eq!(
            settings(&[("REMINDER_INTERVAL", "1h")])
                .unwrap()
                .reminder_interval,
            Duration::from_secs(3600)
        );
        assert_eq!(
            settings(&[("REMINDER_INTERVAL", "90")])
                .unwrap()
                .reminder_interval,
            Duration::from_secs(90)
        );
        for bad in ["0", "2d", "quinze", "100000"] {
            assert_eq!(
                settings(&[("REMINDER_INTERVAL", bad)])
                    .unwrap_err()
                    .variable,
                "REMINDER_INTERVAL"
            );
        }
    }

    #[test]
    fn form_api_defaults_to_the_form_and_accepts_loopback_http_only() {
        let s = settings(&[("FORM_BASE_URL", "https://qf.exemple.gouv.fr/")]).unwrap();
        assert_eq!(s.form_api.url, "https://qf.exemple.gouv.fr");
        assert!(s.form_api.key.is_none());
        assert_eq!(s.form_api.retry_delay, Duration::from_secs(30));
        assert_eq!(s.form_api.timeout, Duration::from_secs(10));
        assert_eq!(
            settings(&[("FORM_API_TIMEOUT", "0")]).unwrap_err().variable,
            "FORM_API_TIMEOUT"
        );
        let s = settings(&[
            ("FORM_API_URL", "http://127.0.0.1:4000/"),
            ("FORM_API_KEY", "cle-privee"),
            ("FORM_API_RETRY_DELAY", "1"),
            ("FORM_API_TIMEOUT", "3"),
        ])
        .unwrap();
        assert_eq!(s.form_api.url, "http://127.0.0.1:4000");
        assert_eq!(s.form_api.timeout, Duration::from_secs(3));
        assert_eq!(s.form_api.retry_delay, Duration::from_secs(1));
        assert!(!format!("{:?}", s.form_api).contains("cle-privee"));
        for bad in ["http://qf.exemple.fr", "ftp://127.0.0.1", "pas une url"] {
            assert_eq!(
                settings(&[("FORM_API_URL", bad)]).unwrap_err().variable,
                "FORM_API_URL",
                "{bad}"
            );
        }
        assert!(settings(&[("FORM_API_URL", "http://localhost:8000")]).is_ok());
        // With a key, a clear-text default is refused too.
        assert!(settings(&[("FORM_BASE_URL", "http://qf.exemple.fr")]).is_ok());
        assert_eq!(
            settings(&[
                ("FORM_BASE_URL", "http://qf.exemple.fr"),
                ("FORM_API_KEY", "k")
            ])
            .unwrap_err()
            .variable,
            "FORM_API_URL"
        );
    }

    #[test]
    fn redacted_postgres_url_hides_password() {
        let loc = DatabaseLocation::Postgres("postgres://u:secret@h/db".into());
        assert!(!loc.redacted().contains("secret"));
    }

    #[test]
    fn proconnect_all_or_none_and_secure_issuer() {
        assert!(settings(&[]).unwrap().proconnect.is_none());
        let full = |issuer: &'static str| {
            settings(&[
                ("PROCONNECT_ISSUER", issuer),
                ("PROCONNECT_CLIENT_ID", "client"),
                ("PROCONNECT_CLIENT_SECRET", "secret"),
                ("PROCONNECT_MFA_IDPS", " idp-a, ,idp-b "),
            ])
        };
        let s = full("https://proconnect.gouv.fr/api/v2/").unwrap();
        let p = s.proconnect.unwrap();
        assert_eq!(p.issuer, "https://proconnect.gouv.fr/api/v2");
        assert_eq!(p.mfa_idps, vec!["idp-a", "idp-b"]);
        assert!(!format!("{p:?}").contains("secret\""));
        assert!(full("http://127.0.0.1:9999/api/v2").is_ok());
        assert!(full("http://localhost:9999").is_ok());
        for bad in [
            "http://proconnect.gouv.fr",
            "ftp://127.0.0.1",
            "pas une url",
        ] {
            assert_eq!(
                full(bad).unwrap_err().variable,
                "PROCONNECT_ISSUER",
                "{bad}"
            );
        }
        let partial = settings(&[
            ("PROCONNECT_ISSUER", "https://proconnect.gouv.fr/api/v2"),
            ("PROCONNECT_CLIENT_ID", "client"),
        ]);
        assert_eq!(partial.unwrap_err().variable, "PROCONNECT_CLIENT_SECRET");
    }
}
