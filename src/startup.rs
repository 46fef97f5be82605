//! Builds the application from settings: pool, migrations, templates, assets and the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::dev::Server;
use actix_web::{App, HttpServer, middleware, web};

use actix_session::SessionMiddleware;
use actix_session::config::{CookieContentSecurity, PersistentSession, TtlExtensionPolicy};
use actix_web::cookie::SameSite;
use actix_web::cookie::time::Duration as CookieDuration;

use crate::config::Settings;
use crate::db;
use crate::state::AppState;

/// A built, bound, not yet awaited application.
pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    /// Opens the database, runs migrations, binds `settings.bind` (port 0 picks one) and
    /// prepares the server. Demo data and the DSFR download are the caller's choice.
    pub async fn build(mut settings: Settings) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(settings.bind).map_err(|e| {
            anyhow::anyhow!("BIND : impossible d'écouter sur {} ({e})", settings.bind)
        })?;
        let bound = listener.local_addr()?;
        let port = bound.port();
        // With port 0 the default public URL names the port actually bound.
        if settings.public_url == format!("http://{}", settings.bind) {
            settings.public_url = format!("http://{bound}");
        }
        settings.bind = bound;
        let state = build_state(settings).await?;
        crate::mail::sender::spawn(state.pool.clone(), state.mailer.clone());
        crate::mail::jobs::spawn(state.clone());
        db::spawn_checkpointer(state.pool.clone(), &state.settings.database);
        crate::hubee::spawn_jobs(state.clone());
        crate::provisioning::spawn_jobs(state.clone());
        let server = run(listener, state.clone())?;
        Ok(Application {
            port,
            server,
            state,
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (pool, settings), e.g. to seed data before serving.
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until stopped.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Opens the pool, runs pending migrations and loads templates.
pub async fn build_state(settings: Settings) -> anyhow::Result<web::Data<AppState>> {
    let location = settings.database.clone();
    let pool_size = settings.pool_size;
    db::set_slow_query_ms(settings.slow_query_ms);
    db::set_sqlite_cache_mib(settings.sqlite_cache_mib);
    let pool = tokio::task::spawn_blocking(move || -> anyhow::Result<db::Pool> {
        let pool = db::build_pool(&location, pool_size)?;
        let mut conn = pool.get()?;
        let applied = db::run_migrations(&mut conn)?;
        if !applied.is_empty() {
            tracing::info!(count = applied.len(), "migrations appliquées");
        }
        db::refresh_statistics(&mut conn)?;
        Ok(pool)
    })
    .await??;
    let tera = crate::state::load_templates()?;
    let mailer = std::sync::Arc::new(crate::mail::sender::Mailer::new(&settings.mail)?);
    let session_key = match &settings.session_key {
        Some(key) => actix_web::cookie::Key::derive_from(key.expose().as_bytes()),
        None => {
            let key_pool = pool.clone();
            let bytes = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<u8>> {
                let mut conn = key_pool.get()?;
                crate::auth::session_key::load_or_create(&mut conn)
            })
            .await??;
            actix_web::cookie::Key::try_from(bytes.as_slice())
                .map_err(|e| anyhow::anyhow!("clé de session en base invalide : {e}"))?
        }
    };
    let dsfr_dir = crate::assets::dsfr_dist_dir(&settings.dsfr_dir);
    let dsfr_ready = Arc::new(AtomicBool::new(crate::assets::dsfr_available(
        &settings.dsfr_dir,
    )));
    let sirene = crate::clients::sirene::SireneClient::new(
        settings.sirene_api_url.clone(),
        settings
            .sirene_api_key
            .as_ref()
            .map(|k| k.expose().to_owned()),
    );
    let hubee = settings.hubee.as_ref().map(|h| {
        crate::clients::hubee::HubeeClient::new(crate::clients::hubee::HubeeConfig {
            auth_url: h.auth_url.clone(),
            api_url: h.api_url.clone(),
            client_id: h.client_id.clone(),
            client_secret: h.client_secret.clone(),
            timeout: h.timeout,
        })
    });
    let form = crate::clients::form::FormClient::new(
        &settings.form_api.url,
        settings.form_api.key.clone(),
        settings.form_api.timeout,
    );
    let proconnect = settings
        .proconnect
        .clone()
        .map(crate::auth::proconnect::ProConnect::new);
    let datapass = match &settings.datapass_api {
        Some(api) => Some(Arc::new(crate::clients::datapass::DataPassClient::new(
            crate::clients::datapass::DataPassApiConfig {
                api_url: api.api_url.clone(),
                client_id: api.client_id.clone(),
                client_secret: api.client_secret.clone(),
                timeout: api.timeout,
            },
        )?)),
        None => None,
    };
    let ingest = crate::instruction::ingest::Ingest::new(settings.database.clone());
    Ok(web::Data::new(AppState {
        form,
        form_wakeup: Arc::new(tokio::sync::Notify::new()),
        pool,
        tera,
        settings,
        dsfr_ready,
        dsfr_dir,
        sirene,
        hubee,
        proconnect,
        hubee_wakeup: Arc::new(tokio::sync::Notify::new()),
        datapass,
        mailer,
        session_key,
        dashboard: Default::default(),
        filter_choices: Default::default(),
        list_results: Default::default(),
        search_hits: Default::default(),
        token_summaries: Default::default(),
        pages: Default::default(),
        editeur_clients: Default::default(),
        ingest,
    }))
}

/// Downloads the DSFR in the background when it is missing and allowed; pages switch to it
/// as soon as it is ready and keep the project's own stylesheet meanwhile.
pub fn spawn_dsfr_download(state: &web::Data<AppState>) {
    if state.dsfr_ready.load(Ordering::Relaxed) || !state.settings.dsfr_download {
        return;
    }
    let base = state.settings.dsfr_dir.clone();
    let ready = state.dsfr_ready.clone();
    tokio::spawn(async move {
        match crate::assets::ensure_dsfr(&base, crate::assets::DSFR_TARBALL_URL).await {
            Ok(_) => ready.store(true, Ordering::Relaxed),
            Err(e) => tracing::warn!(
                error = %format!("{e:#}"),
                "DSFR indisponible : les pages utilisent la feuille de style du projet"
            ),
        }
    });
}

fn run(listener: TcpListener, state: web::Data<AppState>) -> anyhow::Result<Server> {
    let key = state.session_key.clone();
    let secure = state.settings.is_https();
    let store = crate::auth::session::DbSessionStore::new(
        state.pool.clone(),
        state.settings.session_max_lifetime,
    );
    let idle = CookieDuration::seconds(state.settings.session_idle_timeout.as_secs() as i64);
    let server = HttpServer::new(move || {
        let sessions = SessionMiddleware::builder(store.clone(), key.clone())
            .cookie_name("qf_session".to_owned())
            .cookie_http_only(true)
            .cookie_same_site(SameSite::Lax)
            .cookie_secure(secure)
            .cookie_content_security(CookieContentSecurity::Private)
            .session_lifecycle(
                PersistentSession::default()
                    .session_ttl(idle)
                    .session_ttl_extension_policy(TtlExtensionPolicy::OnStateChanges),
            )
            .build();
        App::new()
            .app_data(state.clone())
            .wrap(middleware::from_fn(crate::auth::view_as::read_only))
            .wrap(middleware::from_fn(crate::auth::csrf::guard))
            .wrap(sessions)
            .wrap(middleware::Compress::default())
            .wrap(middleware::from_fn(crate::security::headers))
            // The path only: query strings carry sign-in links and CSRF tokens.
            .wrap(
                middleware::Logger::new("%{method}xi %U %s %Dms")
                    .custom_request_replace("method", |req| req.method().to_string())
                    .exclude("/health"),
            )
            .configure(crate::routes::configure)
    })
    .listen(listener)?
    .run();
    Ok(server)
}
