//! End-to-end: Debian's chromium, driven through chromedriver, loads the home page.
//! Ignored by default (it needs chromium); `.ci/run` runs it with `--ignored`.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};
use qf_backoffice::assets;
use serde_json::json;

use crate::helpers::TestApp;

/// A chromedriver process, killed on drop.
pub(crate) struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    pub(crate) fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let binary = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let child = Command::new(&binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("chromedriver ({binary}) must be installed: {e}"));
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Clicks the element the locator finds.
pub(crate) async fn click(client: &fantoccini::Client, locator: Locator<'_>) {
    client
        .find(locator)
        .await
        .unwrap_or_else(|e| panic!("{locator:?}: {e}"))
        .click()
        .await
        .unwrap();
}

/// The text of the element the locator finds.
pub(crate) async fn text_of(client: &fantoccini::Client, locator: Locator<'_>) -> String {
    client
        .find(locator)
        .await
        .unwrap_or_else(|e| panic!("{locator:?}: {e}"))
        .text()
        .await
        .unwrap()
}

pub(crate) async fn browser(driver: &Driver) -> fantoccini::Client {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let profile = tempfile::tempdir().unwrap().keep();
    let capabilities = json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ]
        }
    });
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    ClientBuilder::rustls()
        .expect("rustls client")
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("chromium session")
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver: run by .ci/run (cargo test --test api -- --ignored)"]
async fn home_page_shows_the_dsfr_styled_header_in_chromium() {
    let dsfr_base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dsfr");
    assets::ensure_dsfr(&dsfr_base, assets::DSFR_TARBALL_URL)
        .await
        .expect("the pinned DSFR downloads and passes its integrity check");
    let dsfr_dir = dsfr_base.to_string_lossy().into_owned();
    let app = TestApp::spawn_with(&[("DSFR_DIR", &dsfr_dir)]).await;
    app.load_demo().await;

    let driver = Driver::start();
    let client = browser(&driver).await;
    // Anonymous: the sign-in page. Then a sign-in link, confirmed by a click.
    client.goto(&format!("{}/", app.address)).await.unwrap();
    client.find(Locator::Id("connexion")).await.unwrap();
    sign_in_browser(&app, &client, qf_backoffice::demo::DEMO_INSTRUCTEUR).await;
    client
        .wait()
        .for_element(Locator::Css("[data-testid=request-counts]"))
        .await
        .unwrap();

    let header = client.find(Locator::Css("header.fr-header")).await.unwrap();
    let text = header.text().await.unwrap();
    assert!(text.contains("QF back-office"), "{text}");
    // The DSFR sets the logo in capitals.
    assert!(text.contains("RÉPUBLIQUE"), "{text}");

    // The DSFR stylesheet is loaded and applied: Marianne font, DSFR header shadow.
    let loaded = client
        .execute(
            "return [...document.styleSheets].some(s => s.href && s.href.endsWith('/static/dsfr/dsfr.min.css') && s.cssRules.length > 100)",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(loaded, json!(true), "dsfr.min.css is loaded");
    let font = client
        .execute(
            "return getComputedStyle(document.querySelector('.fr-header__service-title')).fontFamily",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        font.as_str().unwrap_or_default().contains("Marianne"),
        "{font}"
    );
    let rows = client
        .find_all(Locator::Css("tr[data-siret]"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 20);

    let png = client.screenshot().await.unwrap();
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("home.png");
    std::fs::write(&shot, png).unwrap();
    client.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver: run by .ci/run (cargo test --test api -- --ignored)"]
async fn staff_follow_a_request_decided_on_datapass_in_chromium() {
    let smtp = crate::smtp::SmtpServer::start().await;
    let smtp_url = smtp.url();
    let app = TestApp::spawn_with(&[
        ("SMTP_URL", &smtp_url),
        ("MAIL_POLL_INTERVAL", "0.2"),
        ("DATAPASS_WEBHOOK_SECRET", crate::webhook::SECRET),
    ])
    .await;
    app.load_demo().await;
    for (i, event) in ["create", "submit"].iter().enumerate() {
        let (status, _) = crate::webhook::deliver(
            &app,
            &crate::webhook::payload(event, 777, 1_790_000_000 + i as i64, crate::webhook::SIRET),
        )
        .await;
        assert_eq!(status, 200);
    }

    let driver = Driver::start();
    let client = browser(&driver).await;
    sign_in_browser(&app, &client, qf_backoffice::demo::DEMO_INSTRUCTEUR).await;
    client
        .wait()
        .for_element(Locator::Css("[data-testid=request-counts]"))
        .await
        .unwrap();

    // The queue, through the menu.
    click(&client, Locator::LinkText("Instruction")).await;
    client
        .wait()
        .for_element(Locator::Css("[data-testid=queue-total]"))
        .await
        .unwrap();
    click(&client, Locator::LinkText("D777")).await;
    let state = client
        .wait()
        .for_element(Locator::Css("[data-testid=request-state]"))
        .await
        .unwrap();
    assert_eq!(state.text().await.unwrap().to_lowercase(), "soumise");
    // Decided on DataPass: the page offers the link, no local decision form.
    client
        .find(Locator::Css("[data-testid=decide-on-datapass] a"))
        .await
        .expect("the link to DataPass's instruction page");
    assert!(client.find(Locator::Id("valider")).await.is_err());
    // DataPass approves; the page, reloaded, follows.
    let (status, _) = crate::webhook::deliver(
        &app,
        &crate::webhook::payload("approve", 777, 1_790_000_600, crate::webhook::SIRET),
    )
    .await;
    assert_eq!(status, 200);
    let started = Instant::now();
    loop {
        client.refresh().await.unwrap();
        let text = match client
            .find(Locator::Css("[data-testid=request-state]"))
            .await
        {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.to_lowercase() == "validée" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "state: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let token_id = text_of(&client, Locator::Css("dl.facts code")).await;
    client.close().await.unwrap();

    let mails = smtp.wait_for(1, 20).await;
    let validation = mails
        .iter()
        .find(|m| m.subject().starts_with("Habilitation validée"))
        .unwrap_or_else(|| {
            panic!(
                "the validation e-mail among {:?}",
                mails
                    .iter()
                    .map(|m| (m.subject(), m.header("Subject")))
                    .collect::<Vec<_>>()
            )
        });
    assert_eq!(
        validation.header("To").unwrap(),
        "marie.curie@saint-exemple.fr"
    );
    assert_eq!(validation.header("Cc").unwrap(), "api@mushroom-software.fr");
    let mut recipients = validation.recipients.clone();
    recipients.sort();
    assert_eq!(
        recipients,
        ["api@mushroom-software.fr", "marie.curie@saint-exemple.fr"]
    );
    assert!(
        validation.text().contains(&token_id),
        "token id {token_id} in the e-mail"
    );
}

pub(crate) async fn sign_in_browser(app: &TestApp, client: &fantoccini::Client, email: &str) {
    let token = app.login_token(email, qf_backoffice::db::now()).await;
    client
        .goto(&format!("{}/connexion/lien?jeton={token}", app.address))
        .await
        .unwrap();
    click(client, Locator::Css("#utiliser-lien button")).await;
    client
        .wait()
        .for_element(Locator::Css("[data-testid=user-email]"))
        .await
        .unwrap();
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver: run by .ci/run (cargo test --test api -- --ignored)"]
async fn the_demandeur_prolongs_a_token_in_chromium_and_another_contact_cannot() {
    let app = TestApp::spawn().await;
    app.load_demo().await;
    // Request 001 (Villeurbanne): token with 80 days left.
    let contacts: Vec<(String, String)> = app
        .with_conn(|conn| {
            use diesel::prelude::*;
            use qf_backoffice::db::schema::request_contacts;
            request_contacts::table
                .filter(request_contacts::request_id.eq("demo-request-001"))
                .select((request_contacts::role, request_contacts::email))
                .load(conn)
                .unwrap()
        })
        .await;
    let email_of = |role: &str| {
        contacts
            .iter()
            .find(|(r, _)| r == role)
            .map(|(_, e)| e.clone())
            .unwrap()
    };
    let driver = Driver::start();

    // Another contact of the same request: no prolongation button.
    let other = browser(&driver).await;
    sign_in_browser(&app, &other, &email_of("contact_metier")).await;
    let phrase = text_of(&other, Locator::Css("[data-testid=token-phrase]")).await;
    assert!(phrase.contains("expire dans 80 jours"), "{phrase}");
    assert!(
        other
            .find(Locator::Css("[data-testid=prolong-link]"))
            .await
            .is_err()
    );
    click(&other, Locator::LinkText("Voir la prolongation")).await;
    let who = other
        .wait()
        .for_element(Locator::Css("[data-testid=who-can-prolong]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(who.contains(&email_of("demandeur")), "{who}");
    assert!(other.find(Locator::Id("prolongation")).await.is_err());
    other.close().await.unwrap();

    // The demandeur: sees the days left, prolongs with no change, sees the new date.
    let client = browser(&driver).await;
    sign_in_browser(&app, &client, &email_of("demandeur")).await;
    let phrase = text_of(&client, Locator::Css("[data-testid=token-phrase]")).await;
    assert!(phrase.contains("expire dans 80 jours"), "{phrase}");
    click(&client, Locator::Css("[data-testid=prolong-link]")).await;
    client
        .wait()
        .for_element(Locator::Id("prolongation"))
        .await
        .unwrap();
    for question in ["collectivite", "finalite", "contacts"] {
        click(&client, Locator::Css(&format!("label[for={question}-oui]"))).await;
    }
    click(&client, Locator::Id("prolonger")).await;
    let new_date = client
        .wait()
        .for_element(Locator::Css("[data-testid=new-expiry]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let expected =
        qf_backoffice::domain::token::expiry_date(qf_backoffice::domain::calendar::paris_today());
    assert_eq!(new_date, expected.format("%d/%m/%Y").to_string());
    client.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver: run by .ci/run (cargo test --test api -- --ignored)"]
async fn staff_activate_a_subscription_in_api_mode_and_the_editeur_sees_it_active() {
    let app = TestApp::spawn().await;
    app.load_demo().await;
    let arpege = qf_backoffice::domain::siret::with_check_digit("3809876540002").unwrap();
    let driver = Driver::start();

    let staff = browser(&driver).await;
    sign_in_browser(&app, &staff, qf_backoffice::demo::DEMO_INSTRUCTEUR).await;
    staff
        .goto(&format!("{}/abonnements/demo-hubee-001", app.address))
        .await
        .unwrap();
    assert_eq!(
        text_of(&staff, Locator::Css("[data-testid=hubee-status]")).await,
        "Inactif"
    );
    staff
        .find(Locator::Id("access_mode"))
        .await
        .unwrap()
        .select_by_value("API")
        .await
        .unwrap();
    staff
        .find(Locator::Id("editeur_siret"))
        .await
        .unwrap()
        .select_by_value(&arpege)
        .await
        .unwrap();
    click(&staff, Locator::Css("#mode-acces button[type=submit]")).await;
    let started = Instant::now();
    loop {
        let mode = match staff.find(Locator::Css("[data-testid=hubee-mode]")).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if mode == "API" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "mode: {mode}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    click(&staff, Locator::Css("#activation button[type=submit]")).await;
    let started = Instant::now();
    loop {
        let status = match staff.find(Locator::Css("[data-testid=hubee-status]")).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if status == "Actif" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "status: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    staff.close().await.unwrap();

    // The éditeur: its client list and the read-only subscription page say active, in API mode.
    let editeur = browser(&driver).await;
    sign_in_browser(&app, &editeur, "equipe@arpege-citoyen.fr").await;
    let row = text_of(&editeur, Locator::Css("tr[data-request=demo-request-001]")).await;
    assert!(row.contains("Actif (API)"), "{row}");
    editeur
        .goto(&format!("{}/abonnements/demo-hubee-001", app.address))
        .await
        .unwrap();
    let status = text_of(&editeur, Locator::Css("[data-testid=hubee-status]")).await;
    assert_eq!(status, "Actif");
    let delegation = text_of(&editeur, Locator::Css("[data-testid=hubee-delegation]")).await;
    assert!(delegation.contains("Arpège Citoyen"), "{delegation}");
    assert!(
        editeur.find(Locator::Id("activation")).await.is_err(),
        "read-only"
    );
    editeur.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver: run by .ci/run (cargo test --test api -- --ignored)"]
async fn staff_sign_in_with_the_proconnect_button_in_chromium() {
    use crate::oidc_provider::{TestProvider, TestUser};
    let provider = TestProvider::start(TestUser::new(qf_backoffice::demo::DEMO_INSTRUCTEUR)).await;
    let settings = provider.settings();
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let dsfr_base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dsfr");
    assets::ensure_dsfr(&dsfr_base, assets::DSFR_TARBALL_URL)
        .await
        .expect("the pinned DSFR downloads and passes its integrity check");
    let dsfr_dir = dsfr_base.to_string_lossy().into_owned();
    let mut settings = settings;
    settings.push(("DSFR_DIR", &dsfr_dir));
    let app = TestApp::spawn_with(&settings).await;
    app.load_demo().await;

    let driver = Driver::start();
    let client = browser(&driver).await;
    client
        .goto(&format!("{}/connexion", app.address))
        .await
        .unwrap();
    let button = text_of(&client, Locator::Id("proconnect-button")).await;
    assert!(button.contains("ProConnect"), "{button}");
    let png = client.screenshot().await.unwrap();
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("connexion-proconnect.png");
    std::fs::write(&shot, png).unwrap();
    // The button posts its form; the provider sends the browser back; the session opens.
    click(&client, Locator::Id("proconnect-button")).await;
    client
        .wait()
        .for_element(Locator::Css("[data-testid=request-counts]"))
        .await
        .unwrap();
    assert_eq!(provider.authorize_queries().len(), 1);
    let url = client.current_url().await.unwrap();
    assert_eq!(url.as_str(), format!("{}/", app.address));

    // Sign-out goes through ProConnect's end-session endpoint and back.
    click(&client, Locator::Css("form[action='/deconnexion'] button")).await;
    client
        .wait()
        .for_element(Locator::Css("[data-testid=login-notice]"))
        .await
        .unwrap();
    assert_eq!(provider.end_session_queries().len(), 1);
    client.close().await.unwrap();
}
