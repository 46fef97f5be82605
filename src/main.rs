//! The `qf-backoffice` command: parses the command line, reads the settings, hands over.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use qf_backoffice::config::Settings;
use qf_backoffice::startup::{self, Application};
use qf_backoffice::{db, demo, models};

/// jemalloc: memory freed by another thread (a page's rows, built on a blocking thread and
/// rendered on a worker) goes back without the glibc arena lock (see the README's figures).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read when it starts (the environment's `_RJEM_MALLOC_CONF` still
/// overrides them): two arenas instead of four per core, and freed pages given back to the
/// system after a second instead of ten. Measured at national scale under the load
/// benchmark: peak RSS 157 → 147 MB, no page slower.
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static MALLOC_CONF: &[u8; 47] = b"narenas:2,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

/// Back-office de l'équipe API Particulier pour le formulaire national de collecte du
/// quotient familial. Configuration par variables d'environnement (voir le README).
#[derive(Parser)]
#[command(name = "qf-backoffice", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Lance le back-office (commande par défaut) : migrations, données de démonstration sur
    /// une base vide, puis serveur HTTP sur BIND.
    Serve {
        /// Ne charge pas les données de démonstration, même sur une base vide.
        #[arg(long)]
        no_demo_data: bool,
        /// Ne lance pas le balayage périodique des rappels (instances supplémentaires).
        #[arg(long)]
        no_scheduler: bool,
    },
    /// Met en file les rappels d'expiration dus à l'instant donné (maintenant par défaut),
    /// envoie les e-mails en attente et affiche ce qui a été fait.
    Reminders {
        /// Instant du balayage, au format RFC 3339 (ex. 2027-03-01T08:00:00Z).
        #[arg(long)]
        now: Option<String>,
        /// Met les rappels en file sans envoyer les e-mails (le serveur les enverra).
        #[arg(long)]
        no_send: bool,
    },
    /// Supprime les données personnelles dont la durée de conservation est écoulée
    /// (tentatives et liens de connexion, corps des webhooks et des e-mails envoyés, sessions
    /// expirées) et affiche ce qui a été supprimé.
    Purge {
        /// Instant de référence, au format RFC 3339 (maintenant par défaut).
        #[arg(long)]
        now: Option<String>,
    },
    /// Applique les migrations en attente de la base DATABASE_URL, puis s'arrête.
    Migrate,
    /// Charge les données de démonstration si la base est vide, puis s'arrête. Avec
    /// `--scale national` : le jeu à l'échelle nationale (36 000 collectivités, 132 000
    /// demandes, 100 000 jetons…) pour les mesures de charge (`bench/load.sh`).
    DemoData {
        /// Taille du jeu : `demo` (par défaut) ou `national`.
        #[arg(long, default_value = "demo", value_parser = ["demo", "national"])]
        scale: String,
        /// Fraction du jeu national à charger (tests et essais rapides).
        #[arg(long, hide = true)]
        scale_factor: Option<f64>,
    },
    /// Lit les abonnements FormulaireQF dans HubEE, met à jour le back-office, envoie les
    /// changements en attente et affiche ce qui a changé et les écarts.
    HubeeSync,
    /// Envoie au formulaire QF les activations de collectivités en attente, vérifie quels
    /// formulaires sont en ligne et affiche le résultat.
    FormSync,
    /// Relit toutes les demandes API Particulier sur l'API DataPass, crée celles qui manquent,
    /// aligne états, habilitations, contacts et jetons, puis affiche ce qui a changé et les
    /// écarts. Sort en erreur si DataPass est injoignable ou refuse le client.
    DatapassSync,
    /// Crée un membre de l'équipe API Particulier (instructeur, ou administrateur avec --admin).
    CreateStaff {
        /// Adresse e-mail du membre.
        email: String,
        /// Donne le rôle administrateur (gestion des comptes).
        #[arg(long)]
        admin: bool,
    },
    /// Clés de l'API éditeurs.
    ApiKey {
        #[command(subcommand)]
        action: ApiKeyAction,
    },
    /// Affiche un lien de connexion valable 15 minutes pour une adresse ayant accès.
    LoginLink {
        /// Adresse e-mail à connecter.
        email: String,
    },
    /// Importe des collectivités depuis un fichier CSV (colonnes siret, nom, cog, code_postal ;
    /// séparateur « ; » ou « , ») : crée celles dont le SIRET est nouveau, met à jour le nom, le
    /// code commune et le code postal des autres, puis liste les lignes rejetées.
    ImportCollectivites {
        /// Chemin du fichier CSV (UTF-8).
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum ApiKeyAction {
    /// Crée une clé d'API pour l'éditeur de ce SIRET et l'affiche, seule, sur la dernière
    /// ligne (elle ne sera plus jamais affichée).
    Create {
        /// SIRET de l'éditeur.
        siret: String,
        /// Nom de la clé (par exemple « Production »).
        #[arg(long, default_value = "Clé créée en ligne de commande")]
        name: String,
    },
}

/// Caps glibc's malloc arenas at two: by default each thread that allocates (actix workers,
/// tokio's blocking pool running the database work) may get its own arena, up to 8 per core,
/// each keeping freed memory. Measured at national scale under load: peak RSS 165 → 101 MB.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    // SAFETY: `mallopt` only sets an allocator parameter; it is called once, first thing in
    // `main`, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    init_tracing();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("qf-backoffice : configuration invalide : {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("qf-backoffice : démarrage impossible : {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve {
            no_demo_data: false,
            no_scheduler: false,
        }) {
            Command::Serve {
                no_demo_data,
                no_scheduler,
            } => serve(settings, !no_demo_data, !no_scheduler).await,
            Command::Reminders { now, no_send } => reminders(settings, now, no_send).await,
            Command::HubeeSync => hubee_sync(settings).await,
            Command::FormSync => form_sync(settings).await,
            Command::Purge { now } => purge(settings, now).await,
            Command::DatapassSync => datapass_sync(settings).await,
            Command::Migrate => migrate(settings).await,
            Command::DemoData {
                scale,
                scale_factor,
            } => match (scale.as_str(), scale_factor) {
                ("demo", None) => demo_data(settings).await,
                (_, factor) => demo_data_scale(settings, factor.unwrap_or(1.0)).await,
            },
            Command::CreateStaff { email, admin } => create_staff(settings, email, admin).await,
            Command::LoginLink { email } => login_link(settings, email).await,
            Command::ApiKey {
                action: ApiKeyAction::Create { siret, name },
            } => create_api_key(settings, siret, name).await,
            Command::ImportCollectivites { file } => import_collectivites(settings, file).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("qf-backoffice : {}", one_line(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,actix_server=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
}

async fn serve(settings: Settings, demo_allowed: bool, scheduler: bool) -> anyhow::Result<()> {
    let load_demo = demo_allowed && settings.demo_data;
    let smtp = settings.mail.smtp_url.is_some();
    let demo_configured = settings.demo_data;
    let backend = settings.database.redacted();
    let app = Application::build(settings).await?;
    // One line saying whether demo data applies, once the start-up cannot fail any more.
    eprintln!(
        "{}",
        match (demo_allowed, demo_configured, smtp) {
            (false, _, _) => "Données de démonstration : non (--no-demo-data).",
            (true, true, false) =>
                "Données de démonstration : oui sur une base vide (pas de SMTP_URL : aucun e-mail ne part, ils restent dans MAIL_OUTBOX_DIR).",
            (true, true, true) =>
                "Données de démonstration : oui sur une base vide (DEMO_DATA=1 demandé malgré SMTP_URL : leurs e-mails partiront).",
            (true, false, true) =>
                "Données de démonstration : non (SMTP_URL est défini : de vrais e-mails partiraient ; DEMO_DATA=1 pour les charger quand même).",
            (true, false, false) => "Données de démonstration : non (DEMO_DATA=0).",
        }
    );
    let state = app.state();
    let public_url = state.settings.public_url.clone();
    if load_demo {
        let pool = state.pool.clone();
        let loaded = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let mut conn = pool.get()?;
            Ok(demo::load_if_empty(&mut conn, db::now())?)
        })
        .await??;
        if let Some(summary) = loaded {
            tracing::info!("données de démonstration chargées : {summary}");
        }
    }
    startup::spawn_dsfr_download(&state);
    if scheduler {
        let interval = state.settings.reminder_interval;
        qf_backoffice::jobs::reminders::spawn_scheduler(state.clone(), interval);
        qf_backoffice::jobs::purge::spawn_scheduler(state.clone());
        if state.datapass.is_some() {
            qf_backoffice::instruction::sync::spawn_scheduler(state.clone());
        } else {
            tracing::info!(
                "synchronisation DataPass désactivée (DATAPASS_CLIENT_ID et DATAPASS_CLIENT_SECRET absents)"
            );
        }
    } else {
        tracing::info!("balayage des rappels désactivé (--no-scheduler)");
    }
    tracing::info!(database = %backend, port = app.port(), "QF back-office démarré");
    println!("QF back-office prêt : ouvrez {public_url}/");
    app.run_until_stopped().await?;
    Ok(())
}

async fn migrate(settings: Settings) -> anyhow::Result<()> {
    let location = settings.database.clone();
    let applied = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        let pool = db::build_pool(&location, 1)?;
        let mut conn = pool.get()?;
        db::run_migrations(&mut conn)
    })
    .await??;
    if applied.is_empty() {
        println!("Base {} déjà à jour.", settings.database.redacted());
    } else {
        println!(
            "{} migration(s) appliquée(s) sur {} : {}",
            applied.len(),
            settings.database.redacted(),
            applied.join(", ")
        );
    }
    Ok(())
}

async fn demo_data(settings: Settings) -> anyhow::Result<()> {
    let state = startup::build_state(settings).await?;
    let pool = state.pool.clone();
    let loaded = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut conn = pool.get()?;
        Ok(demo::load_if_empty(&mut conn, db::now())?)
    })
    .await??;
    match loaded {
        Some(summary) => println!("Données de démonstration chargées : {summary}."),
        None => println!("La base contient déjà des données : rien n'a été chargé."),
    }
    Ok(())
}

async fn create_api_key(settings: Settings, siret: String, name: String) -> anyhow::Result<()> {
    let siret: String = siret.chars().filter(|c| !c.is_whitespace()).collect();
    let name = models::api_keys::clean_name(&name).map_err(anyhow::Error::msg)?;
    let state = startup::build_state(settings).await?;
    let pool = state.pool.clone();
    let random = qf_backoffice::auth::random_hex(32).map_err(|e| anyhow::anyhow!("{e}"))?;
    let wanted = siret.clone();
    let created =
        tokio::task::spawn_blocking(move || -> anyhow::Result<Option<(String, String)>> {
            let mut conn = pool.get()?;
            let Some(editeur) = models::editeurs::find_by_siret(&mut conn, &wanted)? else {
                return Ok(None);
            };
            let now = db::now();
            let (_, key) = qf_backoffice::db::transaction(&mut conn, |conn| {
                models::api_keys::create(conn, &editeur.id, &name, &random, "cli", now)
            })?;
            Ok(Some((editeur.name, key)))
        })
        .await??;
    let Some((editeur, key)) = created else {
        anyhow::bail!("aucun éditeur n'a le SIRET « {siret} »");
    };
    println!(
        "Clé d'API créée pour {editeur}. Elle ne sera plus affichée : conservez-la maintenant."
    );
    println!("{key}");
    Ok(())
}

async fn demo_data_scale(settings: Settings, factor: f64) -> anyhow::Result<()> {
    if !(factor > 0.0 && factor <= 4.0) {
        anyhow::bail!("--scale-factor doit être compris entre 0 (exclu) et 4");
    }
    let counts = qf_backoffice::demo_scale::ScaleCounts::scaled(factor);
    let location = settings.database.clone();
    println!(
        "Chargement du jeu à l'échelle nationale sur {} : {} collectivités, {} demandes, {} éditeurs…",
        location.redacted(),
        counts.collectivites,
        counts.requests,
        counts.editeurs
    );
    let summary = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let pool = db::build_pool(&location, 1)?;
        let mut conn = pool.get()?;
        db::run_migrations(&mut conn)?;
        qf_backoffice::demo_scale::load(&mut conn, db::now(), counts, &mut |line| {
            println!("{line}")
        })
    })
    .await??;
    println!("Jeu à l'échelle nationale chargé : {summary}.");
    Ok(())
}

async fn create_staff(settings: Settings, email: String, admin: bool) -> anyhow::Result<()> {
    let email = qf_backoffice::mail::normalize_address(&email);
    if !qf_backoffice::mail::is_valid_address(&email) {
        anyhow::bail!("adresse e-mail invalide : « {email} »");
    }
    let role = if admin {
        qf_backoffice::domain::roles::StaffRole::Admin
    } else {
        qf_backoffice::domain::roles::StaffRole::Instructeur
    };
    let state = startup::build_state(settings).await?;
    let pool = state.pool.clone();
    let target = email.clone();
    let created = tokio::task::spawn_blocking(move || -> anyhow::Result<bool> {
        let mut conn = pool.get()?;
        let now = db::now();
        Ok(qf_backoffice::db::transaction(&mut conn, |conn| {
            let created = models::accounts::upsert_staff(conn, &target, role, "cli", now)?;
            models::events::record(
                conn,
                now,
                "cli",
                if created { "staff.add" } else { "staff.role" },
                ("person", &target),
                Some(format!("rôle : {role}")),
            )?;
            diesel::QueryResult::Ok(created)
        })?)
    })
    .await??;
    if created {
        println!("{email} ajouté à l'équipe ({role}).");
    } else {
        println!("{email} fait déjà partie de l'équipe : rôle mis à jour ({role}).");
    }
    Ok(())
}

async fn login_link(settings: Settings, email: String) -> anyhow::Result<()> {
    let email = qf_backoffice::mail::normalize_address(&email);
    let state = startup::build_state(settings).await?;
    let pool = state.pool.clone();
    let public_url = state.settings.public_url.clone();
    let target = email.clone();
    let link = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        let mut conn = pool.get()?;
        let now = db::now();
        if !qf_backoffice::auth::load_identity(&mut conn, &target)?.has_any_role() {
            anyhow::bail!(
                "« {target} » n'a aucun accès (ni équipe, ni éditeur, ni contact d'une demande)"
            );
        }
        let token = qf_backoffice::auth::links::create_token(&mut conn, &target, now)?;
        models::events::record(
            &mut conn,
            now,
            "cli",
            "auth.link_issued",
            ("person", &target),
            None,
        )?;
        Ok(qf_backoffice::auth::links::link_url(&public_url, &token))
    })
    .await??;
    println!("Lien de connexion pour {email} (valable 15 minutes, une seule fois) :");
    println!("{link}");
    Ok(())
}

async fn import_collectivites(settings: Settings, file: PathBuf) -> anyhow::Result<()> {
    use qf_backoffice::import;

    let bytes = std::fs::read(&file)
        .map_err(|e| anyhow::anyhow!("lecture impossible de {} : {e}", file.display()))?;
    let parsed = import::parse(&bytes).map_err(|e| anyhow::anyhow!("{} : {e}", file.display()))?;
    let lines = parsed.lines();
    let location = settings.database.clone();
    let rows = parsed.rows;
    let mut report = tokio::task::spawn_blocking(move || -> anyhow::Result<import::Report> {
        let pool = db::build_pool(&location, 1)?;
        let mut conn = pool.get()?;
        db::run_migrations(&mut conn)?;
        let report = import::apply_with_progress(&mut conn, &rows, "cli", db::now(), |done| {
            eprintln!("… {done} lignes traitées");
        })?;
        Ok(report)
    })
    .await??;
    report.rejected = parsed.rejections;
    println!("Import de {} : {lines} ligne(s) lue(s).", file.display());
    println!("Collectivités créées : {}", report.created.len());
    println!("Collectivités mises à jour : {}", report.updated.len());
    println!("Collectivités inchangées : {}", report.unchanged);
    println!("Lignes rejetées : {}", report.rejected.len());
    for rejection in &report.rejected {
        println!("  ligne {} : {}", rejection.line, rejection.reason);
    }
    Ok(())
}

async fn reminders(settings: Settings, now: Option<String>, no_send: bool) -> anyhow::Result<()> {
    let now = match now {
        None => db::now(),
        Some(text) => chrono::DateTime::parse_from_rfc3339(text.trim())
            .map_err(|_| {
                anyhow::anyhow!(
                    "--now : « {text} » n'est pas une date RFC 3339 (ex. 2027-03-01T08:00:00Z)"
                )
            })?
            .naive_utc(),
    };
    let state = startup::build_state(settings).await?;
    let worker = state.clone();
    let report = state
        .db(move |conn| qf_backoffice::jobs::reminders::sweep(conn, &worker, now))
        .await
        .map_err(|e| anyhow::anyhow!("rappels : {e}"))?;
    println!(
        "Rappels au {} : {} mis en file, {} déjà pris par une autre instance, {} sans demandeur, {} séries closes.",
        now.format("%d/%m/%Y %H:%M"),
        report.sent.len(),
        report.already_claimed,
        report.without_recipient,
        report.closed
    );
    for sent in &report.sent {
        println!(
            "  J-{:<2} {} ({} j) → {} [{}]",
            sent.stage, sent.collectivite, sent.days_left, sent.to, sent.token_id
        );
    }
    if !no_send {
        let delivered = qf_backoffice::mail::sender::sweep(&state.pool, &state.mailer).await?;
        println!("{delivered} e-mail(s) envoyé(s).");
    }
    Ok(())
}

async fn form_sync(settings: Settings) -> anyhow::Result<()> {
    let retry_delay = settings.form_api.retry_delay;
    let state = startup::build_state(settings).await?;
    if !state.form.can_activate() {
        println!("FORM_API_KEY n'est pas configurée : aucune activation envoyée.");
    }
    let activated =
        qf_backoffice::provisioning::activate_due(&state.pool, &state.form, retry_delay).await?;
    let online = qf_backoffice::provisioning::check_live(&state.pool, &state.form, None).await?;
    println!(
        "Formulaire QF : {activated} collectivité(s) activée(s), {online} formulaire(s) en ligne."
    );
    Ok(())
}

async fn hubee_sync(settings: Settings) -> anyhow::Result<()> {
    let Some(hubee) = settings.hubee.clone() else {
        anyhow::bail!(
            "HubEE n'est pas configuré (HUBEE_AUTH_URL, HUBEE_API_URL, HUBEE_CLIENT_ID, HUBEE_CLIENT_SECRET)"
        );
    };
    let state = startup::build_state(settings).await?;
    let Some(client) = state.hubee.clone() else {
        anyhow::bail!("HubEE n'est pas configuré");
    };
    let provisioned =
        qf_backoffice::hubee::provision_due(&state, &client, hubee.retry_delay).await?;
    let report = qf_backoffice::hubee::sync(&state.pool, &client).await?;
    println!(
        "HubEE : {provisioned} abonnement(s) envoyé(s), {} lu(s), {} mis à jour, {} écart(s).",
        report.read,
        report.changes.len(),
        report.issues.len()
    );
    for change in &report.changes {
        println!("  mis à jour : {change}");
    }
    for issue in &report.issues {
        println!("  écart : {issue}");
    }
    Ok(())
}

async fn purge(settings: Settings, now: Option<String>) -> anyhow::Result<()> {
    let now = match now {
        None => db::now(),
        Some(text) => chrono::DateTime::parse_from_rfc3339(text.trim())
            .map_err(|_| {
                anyhow::anyhow!(
                    "--now : « {text} » n'est pas une date RFC 3339 (ex. 2027-03-01T08:00:00Z)"
                )
            })?
            .naive_utc(),
    };
    let retention = settings.retention.clone();
    let max_lifetime = settings.session_max_lifetime;
    let location = settings.database.clone();
    let report = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let pool = db::build_pool(&location, 1)?;
        let mut conn = pool.get()?;
        db::run_migrations(&mut conn)?;
        Ok(qf_backoffice::jobs::purge::purge(
            &mut conn,
            &retention,
            max_lifetime,
            now,
        )?)
    })
    .await??;
    tracing::info!("purge des données personnelles : {report}");
    println!("Purge : {report}.");
    Ok(())
}

async fn datapass_sync(settings: Settings) -> anyhow::Result<()> {
    if settings.datapass_api.is_none() {
        anyhow::bail!(
            "DataPass n'est pas configuré : définissez DATAPASS_CLIENT_ID et DATAPASS_CLIENT_SECRET (et DATAPASS_API_URL hors production)"
        );
    }
    let state = startup::build_state(settings).await?;
    let Some(client) = state.datapass.clone() else {
        anyhow::bail!("DataPass n'est pas configuré");
    };
    let report = qf_backoffice::instruction::sync::run(&state, &client)
        .await
        .map_err(|e| anyhow::anyhow!("synchronisation DataPass impossible : {e}"))?;
    println!("{}", report.summary_fr());
    for failure in &report.failed {
        println!("  en échec : {failure}");
    }
    let delivered = qf_backoffice::mail::sender::sweep(&state.pool, &state.mailer).await?;
    if delivered > 0 {
        println!("{delivered} e-mail(s) envoyé(s).");
    }
    if !report.failed.is_empty() {
        anyhow::bail!(
            "{} demande(s) DataPass n'ont pas pu être enregistrées",
            report.failed.len()
        );
    }
    Ok(())
}
