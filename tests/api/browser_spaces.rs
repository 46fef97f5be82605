//! End-to-end in Chromium: an éditeur filters its clients expiring within 90 days and
//! downloads the CSV and one client's kit; a demandeur sees its form URL and prolongs from its
//! home; staff view as an éditeur and cannot act. Ignored by default (needs chromium).

use fantoccini::Locator;

use crate::browser::{Driver, browser, click, sign_in_browser, text_of};
use crate::helpers::TestApp;

/// GET `href` with the browser's session cookie: what a download of that link receives.
async fn download(app: &TestApp, client: &fantoccini::Client, href: &str) -> (u16, Vec<u8>) {
    let cookie = client.get_named_cookie("qf_session").await.unwrap();
    let url = if href.starts_with("http") {
        href.to_owned()
    } else {
        format!("{}{href}", app.address)
    };
    let response = reqwest::Client::new()
        .get(url)
        .header("cookie", format!("qf_session={}", cookie.value()))
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.bytes().await.unwrap().to_vec(),
    )
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver: run by .ci/run (cargo test --test api -- --ignored)"]
async fn an_editeur_filters_expiring_clients_and_downloads_the_csv_and_a_kit() {
    let app = TestApp::spawn_with_demo().await;
    let driver = Driver::start();
    let client = browser(&driver).await;
    sign_in_browser(&app, &client, "equipe@mushroom-software.fr").await;
    click(&client, Locator::Css("[data-testid=editeur-space-link]")).await;
    client
        .wait()
        .for_element(Locator::Css("[data-view=expire-90j]"))
        .await
        .unwrap();
    click(&client, Locator::Css("[data-view=expire-90j]")).await;
    client
        .wait()
        .for_element(Locator::Css("[data-view=expire-90j][aria-current=page]"))
        .await
        .unwrap();
    let rows = client
        .find_all(Locator::Css("tr[data-client]"))
        .await
        .unwrap();
    assert!(!rows.is_empty());
    for row in &rows {
        let days: i64 = row
            .attr("data-days-left")
            .await
            .unwrap()
            .unwrap()
            .parse()
            .unwrap();
        assert!((0..=90).contains(&days), "{days}");
    }
    let shown: Vec<String> = {
        let mut out = Vec::new();
        for row in &rows {
            out.push(row.attr("data-client").await.unwrap().unwrap());
        }
        out
    };

    // The CSV of this view: the same clients.
    let href = client
        .find(Locator::Css("[data-testid=csv-link]"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let (status, bytes) = download(&app, &client, &href).await;
    assert_eq!(status, 200);
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF");
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(&bytes[3..]);
    let sirets: Vec<String> = reader.records().map(|r| r.unwrap()[0].to_owned()).collect();
    assert_eq!(sirets, shown);

    // One client's kit: its page, then the ZIP.
    click(&client, Locator::Css(&format!("[data-kit='{}']", shown[0]))).await;
    let zip_href = client
        .wait()
        .for_element(Locator::Css("a[href$='kit.zip']"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let (status, zip) = download(&app, &client, &zip_href).await;
    assert_eq!(status, 200);
    assert_eq!(&zip[..2], b"PK");
    client.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver: run by .ci/run (cargo test --test api -- --ignored)"]
async fn a_demandeur_sees_its_form_url_and_prolongs_from_its_home() {
    let app = TestApp::spawn_with_demo().await;
    let demandeur = crate::tokens::contact(&app, "demo-request-001", "demandeur").await;
    let driver = Driver::start();
    let client = browser(&driver).await;
    sign_in_browser(&app, &client, &demandeur).await;
    let url = text_of(&client, Locator::Css("[data-testid=home-form-url]")).await;
    assert!(
        url.starts_with("https://quotient-familial.numerique.gouv.fr/collectivites/"),
        "{url}"
    );
    let token = text_of(&client, Locator::Css("[data-testid=home-token]")).await;
    assert!(token.contains("80 jours restants"), "{token}");
    click(&client, Locator::Css("[data-testid=home-prolong]")).await;
    client
        .wait()
        .for_element(Locator::Id("prolongation"))
        .await
        .unwrap();
    for question in ["collectivite", "finalite", "contacts"] {
        click(&client, Locator::Css(&format!("label[for={question}-oui]"))).await;
    }
    click(&client, Locator::Id("prolonger")).await;
    client
        .wait()
        .for_element(Locator::Css("[data-testid=new-expiry]"))
        .await
        .unwrap();
    client.goto(&format!("{}/", app.address)).await.unwrap();
    let token = text_of(&client, Locator::Css("[data-testid=home-token]")).await;
    assert!(!token.contains("80 jours"), "{token}");
    assert!(
        client
            .find(Locator::Css("[data-testid=home-prolong]"))
            .await
            .is_err()
    );
    client.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver: run by .ci/run (cargo test --test api -- --ignored)"]
async fn staff_view_as_an_editeur_and_cannot_act() {
    let app = TestApp::spawn_with_demo().await;
    let driver = Driver::start();
    let client = browser(&driver).await;
    sign_in_browser(&app, &client, qf_backoffice::demo::DEMO_INSTRUCTEUR).await;
    client
        .goto(&format!(
            "{}/personnes/equipe@mushroom-software.fr",
            app.address
        ))
        .await
        .unwrap();
    click(&client, Locator::Css("#voir-en-tant-que button")).await;
    let banner = client
        .wait()
        .for_element(Locator::Css("[data-testid=view-as-banner]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(banner.contains("equipe@mushroom-software.fr"), "{banner}");
    client
        .goto(&format!("{}/editeur", app.address))
        .await
        .unwrap();
    // The button is disabled on the page; submitting the form anyway is refused.
    client
        .find(Locator::Id("nom-cle"))
        .await
        .unwrap()
        .send_keys("Tentative")
        .await
        .unwrap();
    client
        .form(Locator::Id("nouvelle-cle"))
        .await
        .unwrap()
        .submit_direct()
        .await
        .unwrap();
    let heading = client
        .wait()
        .for_element(Locator::Css("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(heading.contains("Lecture seule"), "{heading}");
    let keys: i64 = app
        .with_conn(|conn| {
            use diesel::prelude::*;
            qf_backoffice::db::schema::api_keys::table
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await;
    assert_eq!(keys, 0);
    // Back to the staff account.
    client
        .goto(&format!("{}/editeur", app.address))
        .await
        .unwrap();
    click(&client, Locator::Css(".view-as-end button")).await;
    client
        .wait()
        .for_element(Locator::Css("[data-testid=person-roles]"))
        .await
        .unwrap();
    assert!(
        client
            .find(Locator::Css("[data-testid=view-as-banner]"))
            .await
            .is_err()
    );
    client.close().await.unwrap();
}
