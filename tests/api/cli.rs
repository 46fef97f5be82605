//! The command line: subcommands, configuration errors and a full migrate → demo-data → serve run.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::TestDb;

fn bin(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_qf-backoffice"));
    command
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("BIND")
        .env_remove("PUBLIC_URL")
        .env("DSFR_DOWNLOAD", "0")
        .env("RUST_LOG", "warn");
    command
}

/// Runs the binary and returns (exit code, stdout, stderr).
fn run(command: &mut Command) -> (i32, String, String) {
    let output = command.output().expect("binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn assert_one_line_naming(stderr: &str, variable: &str) {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line only: {stderr}");
    assert!(lines[0].contains(variable), "names {variable}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn help_describes_each_command() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = run(bin(dir.path()).arg("--help"));
    assert_eq!(code, 0);
    for command in ["serve", "migrate", "demo-data"] {
        assert!(out.contains(command), "{out}");
    }
    let (code, out, _) = run(bin(dir.path()).args(["serve", "--help"]));
    assert_eq!(code, 0);
    assert!(out.contains("--no-demo-data"));
}

#[test]
fn an_unsupported_database_url_stops_start_up_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(bin(dir.path()).env("DATABASE_URL", "mysql://root@localhost/qf"));
    assert_eq!(code, 2);
    assert_one_line_naming(&err, "DATABASE_URL");
}

#[test]
fn an_unreachable_postgres_stops_start_up_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(bin(dir.path())
        .arg("migrate")
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/qf"));
    assert_ne!(code, 0);
    assert_one_line_naming(&err, "DATABASE_URL");
}

#[test]
fn a_bad_bind_stops_start_up_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(bin(dir.path()).env("BIND", "localhost"));
    assert_eq!(code, 2);
    assert_one_line_naming(&err, "BIND");
}

#[test]
fn a_bind_already_in_use_stops_start_up_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let (code, _, err) = run(bin(dir.path()).env("BIND", &address));
    assert_ne!(code, 0);
    assert_one_line_naming(&err, "BIND");
}

#[test]
fn migrate_demo_data_and_serve_on_the_test_backend() {
    let dir = tempfile::tempdir().unwrap();
    let test_db = TestDb::new();

    let (code, out, err) = run(bin(dir.path())
        .arg("migrate")
        .env("DATABASE_URL", &test_db.url));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("migration(s) appliquée(s)"), "{out}");
    let (_, out, _) = run(bin(dir.path())
        .arg("migrate")
        .env("DATABASE_URL", &test_db.url));
    assert!(out.contains("déjà à jour"), "{out}");

    let (code, out, err) = run(bin(dir.path())
        .arg("demo-data")
        .env("DATABASE_URL", &test_db.url));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("50 collectivités"), "{out}");
    let (_, out, _) = run(bin(dir.path())
        .arg("demo-data")
        .env("DATABASE_URL", &test_db.url));
    assert!(out.contains("rien n'a été chargé"), "{out}");

    let mut child = bin(dir.path())
        .arg("serve")
        .env("DATABASE_URL", &test_db.url)
        .env("BIND", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("serve prints its URL");
    let url = line
        .split("ouvrez ")
        .nth(1)
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .trim()
        .to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.contains(":0/"),
        "{url}"
    );

    let health = reqwest::blocking_get(&format!("{url}health"));
    let home = reqwest::blocking_get(&url);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(health.0, 200, "{}", health.1);
    assert!(
        home.1.contains("Se connecter"),
        "anonymous visitors land on sign-in: {}",
        home.1
    );

    // Operators' commands: a staff member is created and a link printed for them.
    let (code, out, err) = run(bin(dir.path())
        .args(["create-staff", "  Nouvel.Agent@Beta.Gouv.FR ", "--admin"])
        .env("DATABASE_URL", &test_db.url));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("nouvel.agent@beta.gouv.fr ajouté"), "{out}");
    let (code, out, err) = run(bin(dir.path())
        .args(["login-link", "nouvel.agent@beta.gouv.fr"])
        .env("DATABASE_URL", &test_db.url)
        .env("PUBLIC_URL", "https://qf.example.gouv.fr"));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("https://qf.example.gouv.fr/connexion/lien?jeton="),
        "{out}"
    );
    let (code, _, err) = run(bin(dir.path())
        .args(["login-link", "inconnu@nulle-part.fr"])
        .env("DATABASE_URL", &test_db.url));
    assert_ne!(code, 0);
    assert_one_line_naming(&err, "aucun accès");
}

#[test]
fn api_key_create_prints_the_new_key_alone_on_its_last_line() {
    use diesel::prelude::*;
    use qf_backoffice::db::schema::{api_keys, editeurs};
    let dir = tempfile::tempdir().unwrap();
    let test_db = TestDb::new();
    let (code, _, err) = run(bin(dir.path())
        .arg("demo-data")
        .env("DATABASE_URL", &test_db.url));
    assert_eq!(code, 0, "{err}");
    let mut conn = test_db.connect();
    let (editeur_id, siret): (String, String) = editeurs::table
        .filter(editeurs::name.eq("Mushroom Software"))
        .select((editeurs::id, editeurs::siret))
        .first(&mut conn)
        .unwrap();
    let (code, out, err) = run(bin(dir.path())
        .args([
            "api-key",
            "create",
            &siret,
            "--name",
            "  Logiciel   de production ",
        ])
        .env("DATABASE_URL", &test_db.url));
    assert_eq!(code, 0, "{err}");
    let key = out.lines().last().unwrap();
    assert!(key.starts_with("qfb_") && key.len() == 68, "{out}");
    let (owner, name): (String, String) = api_keys::table
        .filter(api_keys::key_hash.eq(qf_backoffice::models::api_keys::hash_key(key)))
        .select((api_keys::editeur_id, api_keys::name))
        .first(&mut conn)
        .unwrap();
    assert_eq!(owner, editeur_id);
    assert_eq!(name, "Logiciel de production");
    // An unknown éditeur: one line, non-zero, no key.
    let (code, out, err) = run(bin(dir.path())
        .args(["api-key", "create", "00000000000000"])
        .env("DATABASE_URL", &test_db.url));
    assert_ne!(code, 0);
    assert!(!out.contains("qfb_"));
    assert_one_line_naming(&err, "aucun éditeur");
}

mod reqwest {
    //! A tiny blocking GET over the async client, for tests that drive a child process.
    pub fn blocking_get(url: &str) -> (u16, String) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let response = ::reqwest::get(url).await.expect("GET");
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        })
    }
}

#[tokio::test]
async fn form_sync_sends_pending_activations_and_checks_the_forms() {
    use diesel::prelude::*;
    use qf_backoffice::db::schema::{collectivites, form_activations};

    let form = crate::standins::FormStandIn::start(0).await;
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("collectivites.csv");
    std::fs::write(
        &csv,
        "siret,nom,cog,code_postal\n21690123000013,Saint-Exemple,2A004,20000\n",
    )
    .unwrap();
    let (code, out, err) = run(bin(dir.path())
        .env("DATABASE_URL", &db.url)
        .arg("import-collectivites")
        .arg(&csv));
    assert_eq!(code, 0, "{out}{err}");
    let mut conn = db.connect();
    let id: String = collectivites::table
        .filter(collectivites::siret.eq("21690123000013"))
        .select(collectivites::id)
        .first(&mut conn)
        .unwrap();
    let now = qf_backoffice::db::now();
    qf_backoffice::provisioning::request_form_activation(&mut conn, &id, None, now).unwrap();
    drop(conn);

    let mut command = bin(dir.path());
    command.env("DATABASE_URL", &db.url).arg("form-sync");
    for (name, value) in form.env() {
        command.env(name, value);
    }
    let (code, out, err) = tokio::task::spawn_blocking(move || run(&mut command))
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("1 collectivité(s) activée(s), 1 formulaire(s) en ligne"),
        "{out}"
    );
    // Corsica: the real département.
    let posts = form.with(|f| f.posts.clone());
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["departement"], "2A");
    assert_eq!(form.lookup("2A004").await, 200);
    let mut conn = db.connect();
    let state: String = form_activations::table
        .find(&id)
        .select(form_activations::state)
        .first(&mut conn)
        .unwrap();
    assert_eq!(state, "done");
}
