//! The test harness: a fresh database per test and the real application on port 0.

use std::collections::HashMap;
use std::path::PathBuf;

use actix_web::web;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use qf_backoffice::config::Settings;
use qf_backoffice::db::{self, DatabaseLocation};
use qf_backoffice::startup::Application;
use qf_backoffice::state::AppState;

/// A database that lives as long as the test.
pub struct TestDb {
    pub url: String,
    /// Kept alive so the SQLite file outlives the test's last query.
    _dir: Option<tempfile::TempDir>,
    /// For PostgreSQL: (maintenance URL, database name), dropped at the end.
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A fresh, empty database on the backend the environment selects.
    pub fn new() -> TestDb {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(base) if !base.trim().is_empty() => TestDb::postgres(&base),
            _ => TestDb::sqlite(),
        }
    }

    fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("nested").join("test.sqlite");
        TestDb {
            url: format!("sqlite://{}", path.display()),
            _dir: Some(dir),
            postgres: None,
        }
    }

    fn postgres(base: &str) -> TestDb {
        assert!(
            base.starts_with("postgres://") || base.starts_with("postgresql://"),
            "TEST_DATABASE_URL must be a postgres:// URL, got {base}"
        );
        let name = format!("qf_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin_url = url::Url::parse(base).expect("TEST_DATABASE_URL parses");
        admin_url.set_path("/postgres");
        let mut admin = PgConnection::establish(admin_url.as_str()).unwrap_or_else(|e| {
            panic!("TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}")
        });
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create test database");
        let mut url = admin_url.clone();
        url.set_path(&format!("/{name}"));
        TestDb {
            url: url.to_string(),
            _dir: None,
            postgres: Some((admin_url.to_string(), name)),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    pub fn location(&self) -> DatabaseLocation {
        qf_backoffice::config::parse_database_url(&self.url).expect("test URL parses")
    }

    /// The SQLite file, when on SQLite.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match self.location() {
            DatabaseLocation::Sqlite(path) => Some(path),
            DatabaseLocation::Postgres(_) => None,
        }
    }

    /// Drops the PostgreSQL database now, cutting every connection to it.
    pub fn drop_postgres_now(&self) {
        if let Some((admin_url, name)) = &self.postgres {
            let mut admin = PgConnection::establish(admin_url).expect("admin connection");
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .expect("drop test database");
        }
    }

    /// A direct connection, outside the application.
    pub fn connect(&self) -> db::DbConnection {
        if let Some(parent) = self
            .sqlite_path()
            .as_deref()
            .and_then(std::path::Path::parent)
        {
            std::fs::create_dir_all(parent).expect("SQLite folder");
        }
        db::establish(&self.location()).expect("test database connection")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.postgres
            && let Ok(mut admin) = PgConnection::establish(admin_url)
        {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// Settings for a test app: port 0, no downloads, no demo data unless asked.
pub fn test_settings(db: &TestDb, extra: &[(&str, &str)]) -> Settings {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".to_owned(), db.url.clone()),
        ("BIND".to_owned(), "127.0.0.1:0".to_owned()),
        ("DSFR_DOWNLOAD".to_owned(), "0".to_owned()),
        ("DEMO_DATA".to_owned(), "0".to_owned()),
        ("DATABASE_POOL_SIZE".to_owned(), "4".to_owned()),
        (
            "MAIL_OUTBOX_DIR".to_owned(),
            std::env::temp_dir()
                .join("qf-test-outbox")
                .to_string_lossy()
                .into_owned(),
        ),
        (
            "DSFR_DIR".to_owned(),
            std::env::temp_dir()
                .join("qf-no-dsfr")
                .to_string_lossy()
                .into_owned(),
        ),
    ]);
    for (k, v) in extra {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    Settings::from_lookup(|k| vars.get(k).cloned()).expect("test settings are valid")
}

/// The real application, serving on a random port.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: web::Data<AppState>,
    pub db: TestDb,
}

impl TestApp {
    /// Starts the application on a fresh database.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(&[]).await
    }

    /// Starts the application with extra environment settings.
    pub async fn spawn_with(extra: &[(&str, &str)]) -> TestApp {
        TestApp::spawn_on(TestDb::new(), extra).await
    }

    /// Starts the application on an existing database (a restart).
    pub async fn spawn_on(db: TestDb, extra: &[(&str, &str)]) -> TestApp {
        init_logs();
        let settings = test_settings(&db, extra);
        let app = Application::build(settings)
            .await
            .expect("application builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let state = app.state();
        tokio::spawn(app.run_until_stopped());
        let client = new_client();
        TestApp {
            address,
            client,
            state,
            db,
        }
    }

    /// A second instance of the application on the same database (its own port, pool, mail
    /// sender and jobs), as a second `serve` would be.
    pub async fn spawn_sibling(&self, extra: &[(&str, &str)]) -> (String, web::Data<AppState>) {
        let settings = test_settings(&self.db, extra);
        let app = Application::build(settings)
            .await
            .expect("second instance builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let state = app.state();
        tokio::spawn(app.run_until_stopped());
        (address, state)
    }

    /// Starts the application with the demo data loaded.
    pub async fn spawn_with_demo() -> TestApp {
        let app = TestApp::spawn().await;
        app.load_demo().await;
        app
    }

    /// Loads the demo data (dated today).
    pub async fn load_demo(&self) {
        let pool = self.state.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().expect("connection");
            qf_backoffice::demo::load_if_empty(&mut conn, qf_backoffice::db::now())
                .expect("demo data loads")
                .expect("database was empty")
        })
        .await
        .expect("demo task");
    }

    /// A new browser-like client (its own cookies), not signed in.
    pub fn visitor(&self) -> Visitor {
        Visitor {
            address: self.address.clone(),
            client: new_client(),
        }
    }

    /// A new client signed in as `email` through a real sign-in link.
    pub async fn signed_in(&self, email: &str) -> Visitor {
        let visitor = self.visitor();
        let token = self.login_token(email, qf_backoffice::db::now()).await;
        visitor.use_link(&token).await;
        visitor
    }

    /// Creates a sign-in link token for `email` as of `now`, as `login-link` does.
    pub async fn login_token(&self, email: &str, now: chrono::NaiveDateTime) -> String {
        let pool = self.state.pool.clone();
        let email = email.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().unwrap();
            qf_backoffice::auth::links::create_token(&mut conn, &email, now).unwrap()
        })
        .await
        .unwrap()
    }

    /// Renders and queues the decision e-mails waiting for the mail worker, as the worker does
    /// once the event's transaction has committed (the app's own worker runs too: each job is
    /// taken once). Returns how many e-mails this call put in the outbox.
    pub async fn drain_mail_jobs(&self) -> usize {
        let state = self.state.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = state.pool.get().unwrap();
            qf_backoffice::mail::jobs::run_pending(&mut conn, &state, qf_backoffice::db::now())
                .unwrap()
        })
        .await
        .unwrap()
    }

    /// Runs a closure on a pooled connection of the app.
    pub async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut db::DbConnection) -> T + Send + 'static,
    ) -> T {
        let pool = self.state.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().unwrap();
            f(&mut conn)
        })
        .await
        .unwrap()
    }

    /// GET a path of the app.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{}", self.address, path))
            .send()
            .await
            .expect("request sent")
    }

    /// GET a path and return its status and body.
    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }
}

/// The text between `data-testid="{id}"` and the end of its element's first line.
pub fn count_in(html: &str, attr: &str) -> Option<i64> {
    let start = html.find(attr)?;
    let rest = &html[start..];
    let value_start = rest.find("count-value\">")? + "count-value\">".len();
    let value = &rest[value_start..];
    let end = value.find('<')?;
    value[..end].trim().parse().ok()
}

fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("HTTP client")
}

/// The value of the first `csrf_token` field of a page.
pub fn csrf_in(html: &str) -> Option<String> {
    let start = html.find("name=\"csrf_token\" value=\"")? + "name=\"csrf_token\" value=\"".len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

/// One browser: its own cookie jar, so its own session.
pub struct Visitor {
    pub address: String,
    pub client: reqwest::Client,
}

impl Visitor {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{}", self.address, path))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// The session's CSRF token, read from a page that carries a form.
    pub async fn csrf(&self) -> String {
        let (_, html) = self.get_text("/connexion").await;
        if let Some(token) = csrf_in(&html) {
            return token;
        }
        let (_, html) = self.get_text("/").await;
        csrf_in(&html).expect("a page with a CSRF token")
    }

    /// POST a form with the session's CSRF token added.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf().await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf_token", &token));
        self.post_raw(path, &all).await
    }

    /// POST a form exactly as given (no CSRF token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{}", self.address, path))
            .form(fields)
            .send()
            .await
            .expect("request sent")
    }

    /// Opens a sign-in link and confirms it; asserts the session is open.
    pub async fn use_link(&self, token: &str) {
        let (status, html) = self
            .get_text(&format!("/connexion/lien?jeton={token}"))
            .await;
        assert_eq!(status, 200, "{html}");
        let response = self.post_form("/connexion/lien", &[("jeton", token)]).await;
        assert_eq!(response.status().as_u16(), 303);
        assert_eq!(response.headers()["location"], "/");
    }
}

/// Logs of the app under test, on stderr (shown for failing tests); `RUST_LOG` to tune.
fn init_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}
