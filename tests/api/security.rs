//! Hardening, each hole tried from outside and shown closed: stored XSS through a DataPass
//! URL, a second recipient smuggled in an address, secrets in the log and the outbox, security
//! headers, CSRF on every POST for every role, revocable sessions, demo data on a production
//! start, sign-in limits, retention, and smaller holes found by reading.

use std::sync::Arc;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use qf_backoffice::db::schema::{
    editeurs, habilitation_requests, login_attempts, login_tokens, outbox, sessions, staff_members,
    webhook_deliveries,
};
use qf_backoffice::demo::{DEMO_ADMIN, DEMO_INSTRUCTEUR};
use qf_backoffice::routes::all_routes;
use serde_json::json;

use crate::helpers::{TestApp, csrf_in};
use crate::smtp::SmtpServer;
use crate::webhook::{SIRET, deliver, payload};

/// A browser whose cookie can be read, and copied by a thief.
struct Browser {
    address: String,
    jar: Arc<reqwest::cookie::Jar>,
    client: reqwest::Client,
}

impl Browser {
    fn new(app: &TestApp) -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(jar.clone())
            .build()
            .unwrap();
        Browser {
            address: app.address.clone(),
            jar,
            client,
        }
    }

    /// Signs in through a real link.
    async fn sign_in(app: &TestApp, email: &str) -> Browser {
        let browser = Browser::new(app);
        let token = app.login_token(email, qf_backoffice::db::now()).await;
        let html = browser
            .get(&format!("/connexion/lien?jeton={token}"))
            .await
            .text()
            .await
            .unwrap();
        let csrf = csrf_in(&html).unwrap();
        let response = browser
            .post(
                "/connexion/lien",
                &[("jeton", &token), ("csrf_token", &csrf)],
            )
            .await;
        assert_eq!(response.status().as_u16(), 303);
        browser
    }

    fn cookie(&self) -> String {
        use reqwest::cookie::CookieStore;
        self.jar
            .cookies(&self.address.parse().unwrap())
            .map(|v| v.to_str().unwrap().to_owned())
            .expect("a session cookie")
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap()
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.address))
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    async fn csrf(&self) -> String {
        let html = self.get("/").await.text().await.unwrap();
        csrf_in(&html).expect("a form on the home page")
    }
}

/// A request with a copied cookie, from another machine.
async fn with_cookie(app: &TestApp, cookie: &str, path: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}{path}", app.address))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap()
}

fn is_sign_in_redirect(response: &reqwest::Response) -> bool {
    response.status().as_u16() == 303 && response.headers()["location"] == "/connexion"
}

// ---------------------------------------------------------------------------------------
// 1. Stored XSS through `cadre_juridique_url`, and the CSP

#[tokio::test]
async fn a_javascript_url_from_datapass_is_stored_as_given_and_shown_as_text() {
    let app = crate::webhook::spawn().await;
    let hostile = "javascript:fetch('/admin/comptes/equipe',{method:'POST'})";
    let mut body = payload("create", 7001, 1_790_000_000, SIRET);
    body["data"]["data"]["cadre_juridique_url"] = json!(hostile);
    let (status, answer) = deliver(&app, &body).await;
    assert_eq!(status, 200, "{answer}");
    let (id, stored): (String, Option<String>) = app
        .with_conn(|conn| {
            habilitation_requests::table
                .filter(habilitation_requests::datapass_id.eq(7001))
                .select((
                    habilitation_requests::id,
                    habilitation_requests::deliberation_url,
                ))
                .first(conn)
                .unwrap()
        })
        .await;
    assert_eq!(stored.as_deref(), Some(hostile), "stored as given");
    app.with_conn(|conn| {
        qf_backoffice::models::accounts::upsert_staff(
            conn,
            DEMO_INSTRUCTEUR,
            qf_backoffice::domain::roles::StaffRole::Instructeur,
            "test",
            qf_backoffice::db::now(),
        )
        .unwrap();
    })
    .await;
    let staff = Browser::sign_in(&app, DEMO_INSTRUCTEUR).await;
    let response = staff.get(&format!("/demandes/{id}")).await;
    assert_eq!(response.status().as_u16(), 200);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = response.text().await.unwrap();
    assert!(
        !html.to_lowercase().contains("href=\"javascript:"),
        "{html}"
    );
    assert!(html.contains("data-testid=\"deliberation-text\""));
    assert!(!html.contains("data-testid=\"deliberation-link\""));
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");

    // An https address is still a link.
    let mut body = payload("create", 7002, 1_790_000_000, "21690123000021");
    body["data"]["data"]["cadre_juridique_url"] = json!("https://ville.fr/deliberation.pdf");
    let (status, answer) = deliver(&app, &body).await;
    assert_eq!(status, 200, "{answer}");
    let id: String = app
        .with_conn(|conn| {
            habilitation_requests::table
                .filter(habilitation_requests::datapass_id.eq(7002))
                .select(habilitation_requests::id)
                .first(conn)
                .unwrap()
        })
        .await;
    let html = staff
        .get(&format!("/demandes/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("data-testid=\"deliberation-link\""), "{html}");
    assert!(html.contains("href=\"https:&#x2F;&#x2F;ville.fr&#x2F;deliberation.pdf\""));
}

#[tokio::test]
async fn no_page_carries_an_inline_script_and_the_kit_code_is_a_static_file() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let siret: String = app
        .with_conn(|conn| {
            qf_backoffice::db::schema::collectivites::table
                .select(qf_backoffice::db::schema::collectivites::siret)
                .first(conn)
                .unwrap()
        })
        .await;
    for path in [
        "/".to_owned(),
        format!(
            "/collectivites/{siret}/kit?external_id=abc&redirect_uri=https%3A%2F%2Fediteur.fr%2Fretour"
        ),
        "/jetons".to_owned(),
        "/instruction".to_owned(),
    ] {
        let (status, html) = staff.get_text(&path).await;
        assert_eq!(status, 200, "{path}");
        for (i, _) in html.match_indices("<script") {
            let tag = &html[i..i + html[i..].find('>').unwrap()];
            assert!(
                tag.contains(" src=\"/static/"),
                "{path}: inline script {tag}"
            );
        }
        assert!(!html.contains(" style=\""), "{path}: inline style");
        assert!(
            !html.contains(" onfocus=") && !html.contains(" onclick="),
            "{path}"
        );
    }
    let response = app.get("/static/kit.js").await;
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.text().await.unwrap().contains("data-copy"));
}

// ---------------------------------------------------------------------------------------
// 2. A second recipient smuggled in an address

#[tokio::test]
async fn an_address_list_from_datapass_is_refused_and_never_reaches_the_smtp_server() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with(&[
        ("DATAPASS_WEBHOOK_SECRET", crate::webhook::SECRET),
        ("SMTP_URL", &smtp.url()),
        ("MAIL_POLL_INTERVAL", "0.2"),
    ])
    .await;
    for (field, value) in [
        (
            "contact_technique_email",
            "support@editeur.fr,intrus@evil.example",
        ),
        ("contact_metier_email", "Paul <paul@ville.fr>"),
        (
            "delegue_protection_donnees_email",
            "dpd@ville.fr; intrus@evil.example",
        ),
    ] {
        let mut body = payload("create", 7100, 1_790_000_000, SIRET);
        body["data"]["data"][field] = json!(value);
        let (status, answer) = deliver(&app, &body).await;
        // DataPass would disable a webhook answering errors: a 200 "failed", kept for the team.
        assert_eq!(status, 200, "{field}: {answer}");
        assert_eq!(answer["status"], "failed", "{answer}");
        assert_eq!(answer["error"], "invalid_email", "{answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(field), "{message}");
        assert!(
            message.contains("une seule adresse")
                || message.contains("n'est pas une adresse")
                || message.contains("n'est pas exactement une adresse"),
            "{message}"
        );
    }
    let mut body = payload("create", 7100, 1_790_000_000, SIRET);
    body["data"]["applicant"]["email"] = json!("demandeur@ville.fr,intrus@evil.example");
    let (_, answer) = deliver(&app, &body).await;
    assert_eq!(answer["error"], "invalid_email", "{answer}");
    let requests: i64 = app
        .with_conn(|conn| {
            habilitation_requests::table
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await;
    assert_eq!(requests, 0, "nothing applied");

    // Nothing can queue a list: the outbox refuses it, so no stored row is ever split.
    let refused = app
        .with_conn(|conn| {
            let email = qf_backoffice::mail::NewEmail {
                template: "test".into(),
                to: vec!["support@editeur.fr,intrus@evil.example".into()],
                cc: vec![],
                subject: "Décision".into(),
                text: "texte".into(),
                html: "<p>html</p>".into(),
                related: None,
            };
            qf_backoffice::mail::outbox::enqueue(conn, &email, qf_backoffice::db::now())
                .unwrap_err()
                .to_string()
        })
        .await;
    assert!(refused.contains("une seule adresse"), "{refused}");
    let queued: i64 = app
        .with_conn(|conn| outbox::table.count().get_result(conn).unwrap())
        .await;
    assert_eq!(queued, 0);
    app.state.mailer.notify();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        smtp.messages().is_empty(),
        "nothing reached the SMTP server"
    );
}

/// The binary, run in `dir` on `db_url` and logging at `info`; mail goes to `smtp`, or to
/// `.eml` files without it.
fn binary(dir: &std::path::Path, db_url: &str, smtp: Option<&str>) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_qf-backoffice"));
    command
        .current_dir(dir)
        .env_remove("DEMO_DATA")
        .env_remove("PUBLIC_URL")
        .env_remove("SMTP_URL")
        .env("DATABASE_URL", db_url)
        .env("DSFR_DOWNLOAD", "0")
        .env("MAIL_POLL_INTERVAL", "0.2")
        .env("RUST_LOG", "info");
    if let Some(url) = smtp {
        command.env("SMTP_URL", url);
    }
    command
}

/// Starts `serve` on a free port, its log written to `log_path`; the child and its base URL.
fn serve(
    mut command: std::process::Command,
    log_path: &std::path::Path,
) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = command
        .arg("serve")
        .env("BIND", "127.0.0.1:0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(log_path).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let first = BufReader::new(stdout).lines().next().unwrap().unwrap();
    let base = first.split("ouvrez ").nth(1).unwrap().trim();
    let base = base.trim_end_matches('/').to_owned();
    (child, base)
}

/// Asks a sign-in link for `email` through the sign-in page, as a browser would; the client
/// (with its cookies) and the answer.
async fn ask_link_over_http(base: &str, email: &str) -> (reqwest::Client, reqwest::Response) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let html = client
        .get(format!("{base}/connexion"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_in(&html).unwrap();
    let response = client
        .post(format!("{base}/connexion"))
        .form(&[("email", email), ("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    (client, response)
}

// ---------------------------------------------------------------------------------------
// 3 and 7. The log of a full sign-in, the outbox after sending, and demo data with SMTP

#[test]
fn a_production_start_loads_no_demo_data_and_its_log_holds_no_link_nor_token() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let smtp = runtime.block_on(SmtpServer::start());
    let dir = tempfile::tempdir().unwrap();
    let test_db = crate::helpers::TestDb::new();
    let smtp_url = smtp.url();
    let bin = || binary(dir.path(), &test_db.url, Some(&smtp_url));
    let output = bin()
        .args(["create-staff", "agent@beta.gouv.fr", "--admin"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");

    let log_path = dir.path().join("serve.log");
    let (mut child, base) = serve(bin(), &log_path);

    let outcome = runtime.block_on(async {
        let (client, response) = ask_link_over_http(&base, "agent@beta.gouv.fr").await;
        assert_eq!(response.status().as_u16(), 200);
        let mails = smtp.wait_for(1, 30).await;
        let text = mails[0].text();
        let start = text.find("http").unwrap();
        let link = text[start..].split_whitespace().next().unwrap().to_owned();
        let token = link.split("jeton=").nth(1).unwrap().to_owned();
        let html = client
            .get(&link)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = csrf_in(&html).unwrap();
        let response = client
            .post(format!("{base}/connexion/lien"))
            .form(&[("jeton", token.as_str()), ("csrf_token", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 303);
        let home = client
            .get(format!("{base}/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = csrf_in(&home).unwrap();
        // A multipart form carries its CSRF token in the query string.
        let form = reqwest::multipart::Form::new().text("siret", "pas-un-siret");
        let _ = client
            .post(format!("{base}/demandes/nouvelle?csrf_token={csrf}"))
            .multipart(form)
            .send()
            .await
            .unwrap();
        // The sign-in e-mail, once sent, keeps no live link.
        let started = std::time::Instant::now();
        let bodies = loop {
            let db = test_db.url.clone();
            let bodies: Vec<(String, String, String)> = tokio::task::spawn_blocking(move || {
                let mut conn = qf_backoffice::db::establish(
                    &qf_backoffice::config::parse_database_url(&db).unwrap(),
                )
                .unwrap();
                outbox::table
                    .filter(outbox::template.eq("login_link"))
                    .select((outbox::status, outbox::text_body, outbox::html_body))
                    .load(&mut conn)
                    .unwrap()
            })
            .await
            .unwrap();
            if bodies
                .iter()
                .all(|(s, t, _)| s == "sent" && !t.contains("jeton="))
            {
                break bodies;
            }
            assert!(started.elapsed().as_secs() < 10, "{bodies:?}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        (token, csrf, bodies)
    });
    let _ = child.kill();
    let _ = child.wait();
    let (token, csrf, bodies) = outcome;
    assert_eq!(bodies.len(), 1);
    assert!(!bodies[0].1.contains(&token) && !bodies[0].2.contains(&token));

    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("Données de démonstration : non (SMTP_URL est défini"),
        "one line says why: {log}"
    );
    assert!(
        log.contains("GET /connexion/lien 200"),
        "the access log: {log}"
    );
    assert!(!log.contains(&token), "the link token is in the log: {log}");
    assert!(!log.contains("jeton="), "{log}");
    assert!(!log.contains(&csrf), "the CSRF token is in the log: {log}");
    assert!(!log.contains("csrf_token="), "{log}");

    let collectivites: i64 = {
        let mut conn = test_db.connect();
        qf_backoffice::db::schema::collectivites::table
            .count()
            .get_result(&mut conn)
            .unwrap()
    };
    assert_eq!(collectivites, 0, "no demo data on a start with SMTP_URL");
    assert!(smtp.messages().len() == 1, "only the sign-in e-mail left");
}

// ---------------------------------------------------------------------------------------
// 4. Security headers

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    for (who, response) in [
        ("anonymous sign-in page", app.get("/connexion").await),
        ("anonymous redirect", app.get("/jetons").await),
        ("signed-in page", staff.get("/").await),
        ("signed-in list", staff.get("/jetons").await),
        ("404", staff.get("/nulle-part").await),
    ] {
        let headers = response.headers();
        assert!(
            headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'"),
            "{who}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff", "{who}");
        assert_eq!(headers["x-frame-options"], "DENY", "{who}");
        assert_eq!(headers["cache-control"], "no-store", "{who}");
        assert!(
            headers.get("strict-transport-security").is_none(),
            "{who}: http"
        );
    }
    // Static files keep their own caching.
    let response = app.get("/static/app.css").await;
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );

    let https = TestApp::spawn_with(&[("PUBLIC_URL", "https://qf.example.gouv.fr")]).await;
    let response = https.get("/connexion").await;
    assert!(
        response.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
}

// ---------------------------------------------------------------------------------------
// 5. CSRF on every POST, for every role

async fn fingerprint(app: &TestApp) -> Vec<(String, i64)> {
    let postgres = app.db.is_postgres();
    app.with_conn(move |conn| {
        #[derive(QueryableByName)]
        struct Name {
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
        }
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let names: Vec<Name> = diesel::sql_query(if postgres {
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
        } else {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
        })
        .load(conn)
        .unwrap();
        names
            .into_iter()
            // Visiting creates anonymous sessions and sign-in attempts, signing in journals
            // `auth.sign_in` (counted apart); nothing else may change.
            .filter(|n| {
                !matches!(
                    n.name.as_str(),
                    "sessions" | "login_attempts" | "login_tokens" | "events"
                )
            })
            .map(|n| {
                let count: Count = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {}", n.name))
                    .get_result(conn)
                    .unwrap();
                (n.name, count.n)
            })
            .collect()
    })
    .await
}

#[tokio::test]
async fn every_post_of_the_router_without_the_token_is_refused_for_every_role() {
    let app = TestApp::spawn_with_demo().await;
    let (fixture, emails) = crate::access::setup(&app).await;
    let before = fingerprint(&app).await;
    let events_before: i64 = app
        .with_conn(|conn| {
            qf_backoffice::db::schema::events::table
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await;
    let mut failures = Vec::new();
    let mut checked = 0;
    for route in all_routes().into_iter().filter(|(m, _)| *m == "post") {
        if route.1 == qf_backoffice::auth::csrf::EXEMPT_POST {
            continue;
        }
        let Some((path, fields, _)) = crate::access::any_case(route, &fixture) else {
            failures.push(format!("{}: no case", route.1));
            continue;
        };
        for role in crate::access::ROLES {
            let visitor = crate::access::visitor_for(&app, role, &emails).await;
            // A token that is not the session's, and no token at all.
            for token in [None, Some("0".repeat(64))] {
                let mut all = fields.clone();
                if let Some(token) = &token {
                    all.push(("csrf_token", token.as_str()));
                }
                let response = visitor.post_raw(&path, &all).await;
                checked += 1;
                if response.status().as_u16() != 403 {
                    failures.push(format!(
                        "POST {path} as {role} ({}): {}",
                        if token.is_some() {
                            "wrong token"
                        } else {
                            "no token"
                        },
                        response.status()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked > 100, "{checked}");
    assert_eq!(fingerprint(&app).await, before, "nothing changed");
    let events_after: i64 = app
        .with_conn(|conn| {
            qf_backoffice::db::schema::events::table
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await;
    // Only the sign-ins of the visitors were journaled.
    let sign_ins: i64 = app
        .with_conn(|conn| {
            qf_backoffice::db::schema::events::table
                .filter(qf_backoffice::db::schema::events::action.eq("auth.sign_in"))
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await;
    assert!(events_after - events_before <= sign_ins);
}

#[tokio::test]
async fn replaying_a_webhook_delivery_needs_the_csrf_token() {
    let app = crate::webhook::spawn().await;
    let (status, _) = deliver(&app, &json!({"event": "submit"})).await;
    assert_eq!(status, 400);
    let delivery: String = app
        .with_conn(|conn| {
            webhook_deliveries::table
                .select(webhook_deliveries::id)
                .first(conn)
                .unwrap()
        })
        .await;
    app.with_conn(|conn| {
        qf_backoffice::models::accounts::upsert_staff(
            conn,
            DEMO_INSTRUCTEUR,
            qf_backoffice::domain::roles::StaffRole::Instructeur,
            "test",
            qf_backoffice::db::now(),
        )
        .unwrap();
    })
    .await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let path = format!("/webhooks/livraisons/{delivery}/rejouer");
    let response = staff.post_raw(&path, &[]).await;
    assert_eq!(response.status().as_u16(), 403);
    let count: i64 = app
        .with_conn(|conn| webhook_deliveries::table.count().get_result(conn).unwrap())
        .await;
    assert_eq!(count, 1, "nothing replayed");
}

// ---------------------------------------------------------------------------------------
// 6. Server-side sessions

#[tokio::test]
async fn signing_out_ends_the_session_for_every_copy_of_the_cookie() {
    let app = TestApp::spawn_with_demo().await;
    let browser = Browser::sign_in(&app, DEMO_ADMIN).await;
    let copied = browser.cookie();
    assert_eq!(with_cookie(&app, &copied, "/").await.status().as_u16(), 200);
    let csrf = browser.csrf().await;
    let response = browser
        .post("/deconnexion", &[("csrf_token", csrf.as_str())])
        .await;
    assert_eq!(response.status().as_u16(), 303);
    assert!(is_sign_in_redirect(&with_cookie(&app, &copied, "/").await));
    assert!(is_sign_in_redirect(&browser.get("/").await));
}

#[tokio::test]
async fn removing_a_person_or_ending_all_sessions_signs_them_out_at_once() {
    let app = TestApp::spawn_with_demo().await;
    let target = Browser::sign_in(&app, DEMO_INSTRUCTEUR).await;
    let member = Browser::sign_in(&app, "equipe@mushroom-software.fr").await;
    let contact = Browser::sign_in(&app, "api@mushroom-software.fr").await;
    let admin = Browser::sign_in(&app, DEMO_ADMIN).await;
    assert_eq!(target.get("/").await.status().as_u16(), 200);

    let id: String = app
        .with_conn(|conn| {
            staff_members::table
                .filter(staff_members::email.eq(DEMO_INSTRUCTEUR))
                .select(staff_members::id)
                .first(conn)
                .unwrap()
        })
        .await;
    let csrf = admin.csrf().await;
    let response = admin
        .post(
            &format!("/admin/comptes/equipe/{id}/retirer"),
            &[("csrf_token", csrf.as_str())],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
    assert!(
        is_sign_in_redirect(&target.get("/").await),
        "removed: signed out"
    );
    assert_eq!(member.get("/").await.status().as_u16(), 200);

    let response = admin
        .post(
            "/admin/comptes/sessions/terminer",
            &[("csrf_token", csrf.as_str())],
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("session(s) terminée(s)"), "{html}");
    assert!(is_sign_in_redirect(&member.get("/").await));
    assert!(is_sign_in_redirect(&contact.get("/").await));
    assert_eq!(
        admin.get("/").await.status().as_u16(),
        200,
        "the admin stays"
    );
}

#[tokio::test]
async fn a_session_ends_after_its_absolute_lifetime_however_active() {
    let app = TestApp::spawn_with_demo().await;
    let browser = Browser::sign_in(&app, DEMO_ADMIN).await;
    assert_eq!(browser.get("/").await.status().as_u16(), 200);
    // Signed in 23 h ago and active all along: still in.
    let signed_in_ago = |hours: i64| {
        app.with_conn(move |conn| {
            diesel::update(sessions::table.filter(sessions::email.eq(DEMO_ADMIN)))
                .set(
                    sessions::created_at
                        .eq(qf_backoffice::db::now() - chrono::Duration::hours(hours)),
                )
                .execute(conn)
                .unwrap()
        })
    };
    assert_eq!(signed_in_ago(23).await, 1);
    assert_eq!(browser.get("/").await.status().as_u16(), 200);
    assert_eq!(signed_in_ago(25).await, 1);
    assert!(is_sign_in_redirect(&browser.get("/").await));
    let left: i64 = app
        .with_conn(|conn| {
            sessions::table
                .filter(sessions::email.eq(DEMO_ADMIN))
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await;
    assert_eq!(left, 0, "the expired session is deleted");

    // Idle: a session unused past SESSION_IDLE_TIMEOUT is over.
    let browser = Browser::sign_in(&app, DEMO_ADMIN).await;
    app.with_conn(|conn| {
        diesel::update(sessions::table.filter(sessions::email.eq(DEMO_ADMIN)))
            .set(sessions::expires_at.eq(qf_backoffice::db::now() - chrono::Duration::seconds(1)))
            .execute(conn)
            .unwrap()
    })
    .await;
    assert!(is_sign_in_redirect(&browser.get("/").await));
}

/// The roles a page sees are read with the session's row on every request, never kept: not
/// in memory, not in the stored session (where a forged copy is ignored).
#[tokio::test]
async fn roles_are_read_with_the_session_on_every_request_and_never_stored() {
    let app = TestApp::spawn_with_demo().await;
    let instructeur = Browser::sign_in(&app, DEMO_INSTRUCTEUR).await;
    assert_eq!(instructeur.get("/instruction").await.status().as_u16(), 200);
    let states: Vec<String> = app
        .with_conn(|conn| sessions::table.select(sessions::state).load(conn).unwrap())
        .await;
    assert!(!states.is_empty());
    for state in &states {
        assert!(!state.contains("__identities"), "stored: {state}");
    }

    // A forged copy in the stored state, granting the admin's role to the instructeur: the
    // store replaces it with what the data says.
    app.with_conn(|conn| {
        let rows: Vec<(String, String)> = sessions::table
            .filter(sessions::email.eq(DEMO_INSTRUCTEUR))
            .select((sessions::id, sessions::state))
            .load(conn)
            .unwrap();
        for (id, state) in rows {
            let mut state: std::collections::HashMap<String, String> =
                serde_json::from_str(&state).unwrap();
            let forged = json!({
                "email": DEMO_INSTRUCTEUR,
                "view_as": null,
                "identities": [{
                    "email": DEMO_INSTRUCTEUR, "staff_role": "admin", "editeur_ids": [],
                    "is_contact": false, "is_staff": true, "is_admin": true, "is_editeur": false
                }, null]
            });
            state.insert("__identities".into(), forged.to_string());
            diesel::update(sessions::table.find(id))
                .set(sessions::state.eq(serde_json::to_string(&state).unwrap()))
                .execute(conn)
                .unwrap();
        }
    })
    .await;
    assert_eq!(
        instructeur.get("/admin/comptes").await.status().as_u16(),
        403,
        "a stored identity is never trusted"
    );

    // The role removed in the database: the very next request is refused.
    app.with_conn(|conn| {
        diesel::delete(staff_members::table.filter(staff_members::email.eq(DEMO_INSTRUCTEUR)))
            .execute(conn)
            .unwrap()
    })
    .await;
    let refused = instructeur.get("/instruction").await.status().as_u16();
    assert!(
        refused == 403 || refused == 303,
        "a removed staff member keeps no access: {refused}"
    );
}

#[tokio::test]
async fn the_database_holds_no_usable_session_key() {
    let app = TestApp::spawn_with_demo().await;
    let browser = Browser::sign_in(&app, DEMO_ADMIN).await;
    let ids: Vec<String> = app
        .with_conn(|conn| sessions::table.select(sessions::id).load(conn).unwrap())
        .await;
    assert!(!ids.is_empty());
    let cookie = browser.cookie();
    for id in ids {
        assert!(!cookie.contains(&id));
    }
}

// ---------------------------------------------------------------------------------------
// 8. Sign-in limits

async fn ask_link(app: &TestApp, email: &str, forwarded_for: &str) -> u16 {
    let browser = Browser::new(app);
    let html = browser.get("/connexion").await.text().await.unwrap();
    let csrf = csrf_in(&html).unwrap();
    browser
        .client
        .post(format!("{}/connexion", app.address))
        .header("X-Forwarded-For", forwarded_for)
        .form(&[("email", email), ("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn nobody_can_lock_a_person_out_and_each_client_behind_the_proxy_has_its_own_limit() {
    let app = TestApp::spawn_with(&[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    app.load_demo().await;
    // The attacker asks links for the admin from their own IP until refused…
    for _ in 0..5 {
        assert_eq!(ask_link(&app, DEMO_ADMIN, "203.0.113.66").await, 200);
    }
    assert_eq!(ask_link(&app, DEMO_ADMIN, "203.0.113.66").await, 429);
    // …and the admin, from elsewhere, still gets one.
    assert_eq!(ask_link(&app, DEMO_ADMIN, "198.51.100.7").await, 200);
    // Refused requests for an unknown address count for the IP only.
    for i in 0..20 {
        let status = ask_link(&app, &format!("inconnu{i}@ville.fr"), "203.0.113.99").await;
        assert_eq!(status, 200, "request {i}");
    }
    assert_eq!(ask_link(&app, "encore@ville.fr", "203.0.113.99").await, 429);
    assert_eq!(
        ask_link(&app, "encore@ville.fr", "203.0.113.100").await,
        200
    );
    // Every sent link counts towards a daily cap per address, whatever the IP.
    for i in 0..14 {
        let status = ask_link(&app, DEMO_ADMIN, &format!("192.0.2.{i}")).await;
        assert_eq!(status, 200, "request {i}");
    }
    let sent: i64 = app
        .with_conn(|conn| {
            login_attempts::table
                .filter(login_attempts::email.eq(DEMO_ADMIN))
                .filter(login_attempts::sent.eq(true))
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await;
    assert_eq!(sent, 20);
    assert_eq!(ask_link(&app, DEMO_ADMIN, "192.0.2.200").await, 429);
    // The admin, from where they signed in before, is not locked out by the cap…
    assert_eq!(ask_link(&app, DEMO_ADMIN, "198.51.100.20").await, 429);
    let browser = Browser::new(&app);
    let token = app
        .with_conn(|conn| {
            qf_backoffice::auth::links::create_token(conn, DEMO_ADMIN, qf_backoffice::db::now())
                .unwrap()
        })
        .await;
    let html = browser
        .get(&format!("/connexion/lien?jeton={token}"))
        .await
        .text()
        .await
        .unwrap();
    let csrf = csrf_in(&html).unwrap();
    let signed_in = browser
        .client
        .post(format!("{}/connexion/lien", app.address))
        .header("X-Forwarded-For", "198.51.100.20")
        .form(&[("jeton", token.as_str()), ("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status().as_u16(), 303);
    assert_eq!(ask_link(&app, DEMO_ADMIN, "198.51.100.20").await, 200);
    // …while any other IP still is.
    assert_eq!(ask_link(&app, DEMO_ADMIN, "192.0.2.201").await, 429);
}

#[test]
fn without_smtp_the_sign_in_link_is_written_to_the_outbox_never_to_the_log() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let test_db = crate::helpers::TestDb::new();
    let log_path = dir.path().join("serve.log");
    let (mut child, base) = serve(binary(dir.path(), &test_db.url, None), &log_path);

    let eml = runtime.block_on(async {
        let (_, response) = ask_link_over_http(&base, DEMO_ADMIN).await;
        assert_eq!(response.status().as_u16(), 200);
        let outbox_dir = dir.path().join("data/outbox");
        let started = std::time::Instant::now();
        loop {
            let found = std::fs::read_dir(&outbox_dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|entry| std::fs::read_to_string(entry.path()).unwrap_or_default())
                .find(|text| text.contains("jeton="));
            if let Some(text) = found {
                break text;
            }
            assert!(started.elapsed().as_secs() < 15, "no .eml with the link");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(eml.contains("jeton="));
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("aucun SMTP configuré"), "{log}");
    assert!(!log.contains("jeton="), "the link is in the log: {log}");
}

#[tokio::test]
async fn without_trusted_proxies_x_forwarded_for_is_ignored() {
    let app = TestApp::spawn_with_demo().await;
    for i in 0..20 {
        let status = ask_link(&app, &format!("x{i}@ville.fr"), &format!("203.0.113.{i}")).await;
        assert_eq!(status, 200);
    }
    assert_eq!(ask_link(&app, "y@ville.fr", "203.0.113.250").await, 429);
}

// ---------------------------------------------------------------------------------------
// 8. Retention

#[tokio::test]
async fn the_purge_removes_personal_data_past_its_retention_and_keeps_metadata() {
    let app = TestApp::spawn_with_demo().await;
    let start = qf_backoffice::db::now();
    // Activity now: a link request, a sign-in, a webhook, e-mails.
    app.signed_in(DEMO_ADMIN).await;
    app.with_conn(move |conn| {
        qf_backoffice::auth::links::record_attempt(conn, DEMO_ADMIN, "203.0.113.1", start).unwrap();
        conn.batch_execute(&format!(
            "INSERT INTO webhook_deliveries (id, received_at, outcome, http_status, response_body, payload) \
             VALUES ('wh-old', '{start}', 'applied', 200, '{{}}', '{{\"applicant\":{{\"email\":\"marie@ville.fr\"}}}}')"
        ))
        .unwrap();
        for i in 0..3 {
            let email = qf_backoffice::mail::NewEmail {
                template: "decision_refused".into(),
                to: vec![format!("demandeur{i}@ville.fr")],
                cc: vec![],
                subject: format!("Décision {i}"),
                text: "Bonjour Marie".into(),
                html: "<p>Bonjour Marie</p>".into(),
                related: None,
            };
            qf_backoffice::mail::outbox::enqueue(conn, &email, start).unwrap();
        }
        diesel::update(outbox::table)
            .set((outbox::status.eq("sent"), outbox::sent_at.eq(Some(start))))
            .execute(conn)
            .unwrap();
    })
    .await;
    let settings = app.state.settings.clone();
    let purge_at = |days: i64| {
        let settings = settings.clone();
        app.with_conn(move |conn| {
            qf_backoffice::jobs::purge::purge(
                conn,
                &settings.retention,
                settings.session_max_lifetime,
                start + chrono::Duration::days(days),
            )
            .unwrap()
        })
    };
    let report = purge_at(29).await;
    assert_eq!(
        (report.login_attempts, report.login_tokens),
        (0, 0),
        "{report}"
    );

    let report = purge_at(31).await;
    assert!(
        report.login_attempts >= 1 && report.login_tokens >= 1,
        "{report}"
    );
    assert_eq!(report.webhook_bodies, 0);
    let (attempts, links): (i64, i64) = app
        .with_conn(|conn| {
            (
                login_attempts::table.count().get_result(conn).unwrap(),
                login_tokens::table.count().get_result(conn).unwrap(),
            )
        })
        .await;
    assert_eq!((attempts, links), (0, 0));

    let report = purge_at(91).await;
    assert_eq!(report.webhook_bodies, 1, "{report}");
    let (payload, outcome): (String, String) = app
        .with_conn(|conn| {
            webhook_deliveries::table
                .find("wh-old")
                .select((webhook_deliveries::payload, webhook_deliveries::outcome))
                .first(conn)
                .unwrap()
        })
        .await;
    assert!(!payload.contains("marie"), "{payload}");
    assert_eq!(payload, qf_backoffice::jobs::purge::PURGED_PAYLOAD);
    assert_eq!(outcome, "applied", "metadata kept");
    assert_eq!(purge_at(91).await.webhook_bodies, 0, "idempotent");

    let sent: i64 = app
        .with_conn(|conn| outbox::table.count().get_result(conn).unwrap())
        .await;
    assert!(sent > 0);
    assert_eq!(purge_at(364).await.email_bodies, 0);
    let report = purge_at(366).await;
    assert_eq!(report.email_bodies as i64, sent, "{report}");
    let (count, subjects_kept): (i64, i64) = app
        .with_conn(|conn| {
            (
                outbox::table.count().get_result(conn).unwrap(),
                outbox::table
                    .filter(outbox::subject.ne(""))
                    .filter(outbox::text_body.eq(qf_backoffice::jobs::purge::PURGED_EMAIL_BODY))
                    .count()
                    .get_result(conn)
                    .unwrap(),
            )
        })
        .await;
    assert_eq!(count, sent, "rows kept");
    assert_eq!(subjects_kept, sent, "subjects kept, bodies gone");
}

#[test]
fn the_purge_command_reports_what_went() {
    let dir = tempfile::tempdir().unwrap();
    let test_db = crate::helpers::TestDb::new();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_qf-backoffice"))
        .current_dir(dir.path())
        .args(["purge", "--now", "2030-01-01T00:00:00Z"])
        .env("DATABASE_URL", &test_db.url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(out.contains("Purge : 0 tentative(s) de connexion"), "{out}");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_qf-backoffice"))
        .current_dir(dir.path())
        .args(["purge", "--now", "demain"])
        .env("DATABASE_URL", &test_db.url)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("RFC 3339"));
}

// ---------------------------------------------------------------------------------------
// 8. Smaller holes found by reading

#[tokio::test]
async fn the_last_admin_cannot_be_demoted_through_the_staff_form() {
    let app = TestApp::spawn_with_demo().await;
    let admin = app.signed_in(DEMO_ADMIN).await;
    let response = admin
        .post_form(
            "/admin/comptes/equipe",
            &[("email", DEMO_ADMIN), ("role", "instructeur")],
        )
        .await;
    assert_eq!(response.status().as_u16(), 409);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("dernier administrateur")
    );
    let role: String = app
        .with_conn(|conn| {
            staff_members::table
                .filter(staff_members::email.eq(DEMO_ADMIN))
                .select(staff_members::role)
                .first(conn)
                .unwrap()
        })
        .await;
    assert_eq!(role, "admin");
    // With a second admin, the change is allowed.
    let response = admin
        .post_form(
            "/admin/comptes/equipe",
            &[("email", "deuxieme@beta.gouv.fr"), ("role", "admin")],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
    let response = admin
        .post_form(
            "/admin/comptes/equipe",
            &[("email", DEMO_ADMIN), ("role", "instructeur")],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
}

#[tokio::test]
async fn an_instructeur_cannot_give_editeur_access_through_the_contact_technique() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let response = staff
        .post_form(
            "/editeurs/demo-editeur-000/modifier",
            &[
                ("name", "Mushroom Software"),
                ("contact_technique_email", "complice@evil.example"),
                ("apis", "quotient_familial_v2,statut_etudiant"),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 403);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Seul un administrateur")
    );
    let contact: String = app
        .with_conn(|conn| {
            editeurs::table
                .find("demo-editeur-000")
                .select(editeurs::contact_technique_email)
                .first(conn)
                .unwrap()
        })
        .await;
    assert_eq!(contact, "api@mushroom-software.fr");
    let admin = app.signed_in(DEMO_ADMIN).await;
    let response = admin
        .post_form(
            "/editeurs/demo-editeur-000/modifier",
            &[
                ("name", "Mushroom Software"),
                ("contact_technique_email", "nouveau@mushroom-software.fr"),
                ("apis", "quotient_familial_v2,statut_etudiant"),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
}

#[tokio::test]
async fn a_new_request_form_with_too_many_fields_is_refused() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let csrf = staff.csrf().await;
    let mut form = reqwest::multipart::Form::new();
    for i in 0..200 {
        form = form.text(format!("demandeur_champ{i}"), "x".repeat(100));
    }
    let response = staff
        .client
        .post(format!(
            "{}/demandes/nouvelle?csrf_token={csrf}",
            app.address
        ))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert!(response.text().await.unwrap().contains("plus de 64 champs"));
    let mut form = reqwest::multipart::Form::new();
    for i in 0..10 {
        form = form.text(format!("purpose{i}"), "x".repeat(60 * 1024));
    }
    let response = staff
        .client
        .post(format!(
            "{}/demandes/nouvelle?csrf_token={csrf}",
            app.address
        ))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert!(response.text().await.unwrap().contains("trop long"));
}

#[tokio::test]
async fn the_sirene_client_never_follows_a_redirect_with_its_key() {
    use wiremock::matchers::{header_exists, method};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"etablissement": {}})))
        .mount(&elsewhere)
        .await;
    let sirene = MockServer::start().await;
    Mock::given(method("GET"))
        .and(header_exists("X-INSEE-Api-Key-Integration"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("Location", format!("{}/vol-de-cle", elsewhere.uri())),
        )
        .mount(&sirene)
        .await;
    let client = qf_backoffice::clients::sirene::SireneClient::new(
        Some(sirene.uri()),
        Some("cle-secrete".into()),
    );
    let _ = client.lookup(SIRET).await;
    assert_eq!(sirene.received_requests().await.unwrap().len(), 1);
    assert!(
        elsewhere.received_requests().await.unwrap().is_empty(),
        "the key followed the redirect"
    );

    let settings = |url: &str| {
        let url = url.to_owned();
        qf_backoffice::config::Settings::from_lookup(move |k| {
            (k == "SIRENE_API_URL").then(|| url.clone())
        })
    };
    let error = settings("http://api.insee.fr/entreprises/sirene/V3.11").unwrap_err();
    assert_eq!(error.variable, "SIRENE_API_URL");
    assert!(error.message.contains("https://"));
    assert!(settings("https://api.insee.fr/entreprises/sirene/V3.11").is_ok());
    assert!(settings("http://127.0.0.1:9000").is_ok());
}

// ---------------------------------------------------------------------------------------
// 8. Days are Paris days; two instances send each reminder once

#[tokio::test]
async fn a_reminder_goes_out_on_its_paris_day_not_its_utc_day() {
    use chrono::NaiveDate;
    let app = TestApp::spawn().await;
    // Expires on 28 April 2027: the 30-day reminder is due on 29 March (Paris), the day after
    // the spring clock change.
    let expiry = NaiveDate::from_ymd_opt(2027, 4, 28).unwrap();
    app.with_conn(move |conn| {
        crate::reminders::seed_world(conn);
        crate::reminders::seed_tokens(conn, "paris", 1, expiry);
    })
    .await;
    let sweep_at = |utc: &'static str| {
        let state = app.state.clone();
        app.with_conn(move |conn| {
            let now = chrono::NaiveDateTime::parse_from_str(utc, "%Y-%m-%d %H:%M").unwrap();
            qf_backoffice::jobs::reminders::sweep(conn, &state, now)
                .unwrap()
                .sent
                .into_iter()
                .map(|s| (s.stage, s.days_left))
                .collect::<Vec<_>>()
        })
    };
    // The series so far: the 60-day reminder.
    assert_eq!(sweep_at("2027-03-01 08:00").await, vec![(60, 58)]);
    // 23:30 on 28 March in Paris (21:30 UTC): still the 28th, nothing due.
    assert_eq!(sweep_at("2027-03-28 21:30").await, vec![]);
    // 00:30 on 29 March in Paris (22:30 UTC on the 28th): the 30-day reminder.
    assert_eq!(sweep_at("2027-03-28 22:30").await, vec![(30, 30)]);
    assert_eq!(sweep_at("2027-03-29 08:00").await, vec![], "once");
}

#[tokio::test]
async fn two_instances_with_their_schedulers_send_each_due_reminder_exactly_once() {
    let smtp = SmtpServer::start().await;
    let extra = [
        ("SMTP_URL", smtp.url()),
        ("MAIL_POLL_INTERVAL", "0.2".to_owned()),
    ];
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::spawn_with(&extra).await;
    let (_, sibling) = app.spawn_sibling(&extra).await;
    let due = 120;
    let expiry = qf_backoffice::domain::calendar::paris_today() + chrono::Days::new(30);
    app.with_conn(move |conn| {
        crate::reminders::seed_world(conn);
        crate::reminders::seed_tokens(conn, "double", due, expiry);
    })
    .await;
    let interval = std::time::Duration::from_millis(100);
    qf_backoffice::jobs::reminders::spawn_scheduler(app.state.clone(), interval);
    qf_backoffice::jobs::reminders::spawn_scheduler(sibling.clone(), interval);
    let mails = smtp.wait_for(due, 60).await;
    // Let both schedulers and senders run a while longer: nothing more may leave.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let mails_after = smtp.messages();
    assert_eq!(mails_after.len(), due, "each reminder sent once");
    let mut tokens: Vec<String> = mails
        .iter()
        .map(|m| {
            let text = m.text();
            let start = text.find("/jetons/").unwrap() + "/jetons/".len();
            text[start..].split('/').next().unwrap().to_owned()
        })
        .collect();
    tokens.sort();
    tokens.dedup();
    assert_eq!(tokens.len(), due, "one e-mail per token");
    let (reminders, queued): (i64, i64) = app
        .with_conn(|conn| {
            (
                qf_backoffice::db::schema::token_reminders::table
                    .count()
                    .get_result(conn)
                    .unwrap(),
                outbox::table.count().get_result(conn).unwrap(),
            )
        })
        .await;
    assert_eq!((reminders, queued), (due as i64, due as i64));
}

#[tokio::test]
async fn two_instances_create_a_hubee_subscription_once_and_send_its_e_mail_once() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let hubee = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "jeton-hubee", "token_type": "Bearer", "expires_in": 3600
        })))
        .mount(&hubee)
        .await;
    // The collectivité's organization exists: HubEE is asked for it before the subscription.
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex(
            r"^/referential/v1/organizations/SI-",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"type": "SI"})))
        .mount(&hubee)
        .await;
    Mock::given(method("POST"))
        .and(path("/referential/v1/subscriptions"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_delay(std::time::Duration::from_millis(300))
                .set_body_json(json!({
                    "id": "hubee-deux", "processCode": "FormulaireQF", "status": "Inactif",
                    "subscriber": {"type": "SI", "companyRegister": SIRET}
                })),
        )
        .mount(&hubee)
        .await;
    let smtp = SmtpServer::start().await;
    let uri = hubee.uri();
    let smtp_url = smtp.url();
    let extra = [
        ("DATAPASS_WEBHOOK_SECRET", crate::webhook::SECRET),
        ("HUBEE_AUTH_URL", uri.as_str()),
        ("HUBEE_API_URL", uri.as_str()),
        ("HUBEE_CLIENT_ID", "client-qf"),
        ("HUBEE_CLIENT_SECRET", "secret-hubee"),
        ("HUBEE_RETRY_DELAY", "0.2"),
        ("HUBEE_TIMEOUT", "2"),
        ("HUBEE_SYNC_INTERVAL", "1h"),
        ("SMTP_URL", smtp_url.as_str()),
        ("MAIL_POLL_INTERVAL", "0.1"),
    ];
    let app = TestApp::spawn_with(&extra).await;
    app.load_demo().await;
    let (_, sibling) = app.spawn_sibling(&extra).await;
    for (i, event) in ["create", "submit", "approve"].iter().enumerate() {
        let (status, answer) =
            deliver(&app, &payload(event, 801, 1_790_000_000 + i as i64, SIRET)).await;
        assert_eq!(status, 200, "{answer}");
    }
    // Both instances are woken up and race for the same work.
    app.state.hubee_wakeup.notify_one();
    sibling.hubee_wakeup.notify_one();
    app.state.mailer.notify();
    sibling.mailer.notify();
    let started = std::time::Instant::now();
    loop {
        let state: String = app
            .with_conn(|conn| {
                qf_backoffice::db::schema::hubee_provisioning::table
                    .inner_join(qf_backoffice::db::schema::hubee_subscriptions::table)
                    .filter(qf_backoffice::db::schema::hubee_subscriptions::datapass_id.eq(801))
                    .select(qf_backoffice::db::schema::hubee_provisioning::state)
                    .first(conn)
                    .unwrap()
            })
            .await;
        if state == "done" {
            break;
        }
        assert!(started.elapsed().as_secs() < 20, "provisioning: {state}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let creations = hubee
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path() == "/referential/v1/subscriptions")
        .count();
    assert_eq!(creations, 1, "HubEE got one creation");
    let queued: i64 = app
        .with_conn(|conn| outbox::table.count().get_result(conn).unwrap())
        .await;
    assert!(queued >= 1, "the approval e-mail");
    smtp.wait_for(queued as usize, 20).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        smtp.messages().len(),
        queued as usize,
        "each e-mail sent once"
    );
}

#[tokio::test]
async fn the_team_cannot_read_a_sign_in_link_waiting_in_the_outbox() {
    let app = TestApp::spawn_with_demo().await;
    let id = app
        .with_conn(|conn| {
            let email = qf_backoffice::mail::NewEmail {
                template: "login_link".into(),
                to: vec![DEMO_ADMIN.into()],
                cc: vec![],
                subject: "Votre lien de connexion".into(),
                text: "Ouvrez http://x/connexion/lien?jeton=secret-vivant".into(),
                html: "<a href=\"http://x/connexion/lien?jeton=secret-vivant\">x</a>".into(),
                related: None,
            };
            let id = qf_backoffice::mail::outbox::enqueue(conn, &email, qf_backoffice::db::now())
                .unwrap();
            diesel::update(outbox::table.find(&id))
                .set((
                    outbox::status.eq("failed"),
                    outbox::next_attempt_at
                        .eq(qf_backoffice::db::now() + chrono::Duration::days(1)),
                ))
                .execute(conn)
                .unwrap();
            id
        })
        .await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let (status, html) = staff.get_text(&format!("/emails/{id}")).await;
    assert_eq!(status, 200);
    assert!(!html.contains("secret-vivant"), "{html}");
}
