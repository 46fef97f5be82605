//! The éditeur space: its own clients only, the quick views, search, its forms, and its API
//! keys created (shown once), used and revoked after confirmation.

use crate::editeur_api::{ARPEGE, MUSHROOM, api_get};
use crate::helpers::TestApp;

/// The `data-<attr>="…"` values of a page, in order.
fn values(html: &str, attr: &str) -> Vec<String> {
    let marker = format!("{attr}=\"");
    html.match_indices(&marker)
        .map(|(i, _)| {
            let rest = &html[i + marker.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

fn key_in(html: &str) -> Option<String> {
    let start = html.find("data-testid=\"new-key\">")? + "data-testid=\"new-key\">".len();
    let rest = &html[start..];
    Some(rest[..rest.find('<')?].to_owned())
}

#[tokio::test]
async fn an_editeur_sees_its_clients_filters_them_and_manages_its_keys() {
    let app = TestApp::spawn_with_demo().await;
    let a = app.signed_in(MUSHROOM).await;
    let b = app.signed_in(ARPEGE).await;
    let (status, html_a) = a.get_text("/editeur").await;
    assert_eq!(status, 200);
    let (_, html_b) = b.get_text("/editeur").await;
    let clients_a = values(&html_a, "data-client");
    let clients_b = values(&html_b, "data-client");
    assert!(!clients_a.is_empty() && !clients_b.is_empty());
    for siret in &clients_b {
        if !clients_a.contains(siret) {
            assert!(!html_a.contains(siret.as_str()));
        }
    }
    assert!(html_a.contains("data-form-uid=\"api-particulier-city-family-mushroom-software\""));
    assert!(html_a.contains(&format!("/collectivites/{}/kit", clients_a[0])));

    // Quick view: expiring within 90 days.
    let (_, expiring) = a.get_text("/editeur?vue=expire-90j").await;
    let days: Vec<i64> = values(&expiring, "data-days-left")
        .iter()
        .map(|d| d.parse().unwrap())
        .collect();
    assert!(!days.is_empty(), "the demo has expiring tokens");
    assert!(days.iter().all(|d| (0..=90).contains(d)), "{days:?}");
    // Sorted by expiry.
    let (_, sorted) = a.get_text("/editeur?tri=expiration").await;
    let sorted_days: Vec<i64> = values(&sorted, "data-days-left")
        .iter()
        .filter_map(|d| d.parse().ok())
        .collect();
    let mut check = sorted_days.clone();
    check.sort();
    assert_eq!(sorted_days, check);
    // Search by SIRET.
    let (_, found) = a.get_text(&format!("/editeur?q={}", clients_a[0])).await;
    assert_eq!(values(&found, "data-client"), vec![clients_a[0].clone()]);
    // Staff and contacts are not éditeur members.
    let staff = app.signed_in(qf_backoffice::demo::DEMO_INSTRUCTEUR).await;
    assert_eq!(staff.get("/editeur").await.status().as_u16(), 403);

    // A nameless key is refused, nothing created.
    let response = a.post_form("/editeur/cles", &[("name", "   ")]).await;
    assert_eq!(response.status().as_u16(), 400);
    let html = response.text().await.unwrap();
    assert!(html.contains("Donnez un nom"), "{html}");
    assert!(key_in(&html).is_none());

    // Created: shown once, works on the API.
    let response = a
        .post_form("/editeur/cles", &[("name", "Production")])
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let html = response.text().await.unwrap();
    let key = key_in(&html).expect("the key is shown");
    let (_, again) = a.get_text("/editeur").await;
    assert!(!again.contains(&key), "shown once only");
    assert!(again.contains("Production"));
    let response = api_get(&app, "/api/v1/clients?limite=200", Some(&key)).await;
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let api_sirets: Vec<String> = body["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["siret"].as_str().unwrap().to_owned())
        .collect();
    for siret in &clients_a {
        assert!(api_sirets.contains(siret));
    }
    let (_, used) = a.get_text("/editeur").await;
    assert!(!used.contains("Jamais"), "last use shown");

    // Another éditeur cannot revoke it; its own member can, after confirmation.
    let key_id = values(&used, "data-key")[0].clone();
    let path = format!("/editeur/cles/{key_id}/revoquer");
    assert_eq!(b.get(&path).await.status().as_u16(), 404);
    assert_eq!(b.post_form(&path, &[]).await.status().as_u16(), 404);
    assert_eq!(
        api_get(&app, "/api/v1/clients", Some(&key))
            .await
            .status()
            .as_u16(),
        200
    );
    let (status, confirm) = a.get_text(&path).await;
    assert_eq!(status, 200);
    assert!(confirm.contains("Révoquer la clé « Production »"));
    let response = a.post_form(&path, &[]).await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(
        api_get(&app, "/api/v1/clients", Some(&key))
            .await
            .status()
            .as_u16(),
        401
    );
    let (_, after) = a.get_text("/editeur?succes=cle-revoquee").await;
    assert!(after.contains("Clé révoquée"));
    assert!(after.contains("Révoquée le"));
}

#[tokio::test]
async fn a_demandeur_finds_everything_on_its_home_and_prolongs_from_there() {
    let app = TestApp::spawn_with_demo().await;
    // Request 001 (Villeurbanne): 80 days left, the prolongation is open.
    let token = crate::tokens::token_of(1);
    let demandeur = crate::tokens::contact(&app, "demo-request-001", "demandeur").await;
    let user = app.signed_in(&demandeur).await;
    let (status, home) = user.get_text("/").await;
    assert_eq!(status, 200);
    let siret: String = {
        let marker = "data-collectivite=\"";
        let start = home.find(marker).expect("a collectivité card") + marker.len();
        home[start..start + 14].to_owned()
    };
    let home = home.replace("&#x2F;", "/");
    assert!(home.contains(&format!(
        "https://quotient-familial.numerique.gouv.fr/collectivites/{siret}"
    )));
    assert!(home.contains(&format!("/collectivites/{siret}/qrcode.svg")));
    assert!(home.contains(&format!("/collectivites/{siret}/kit")));
    assert!(home.contains("80 jours restants"), "{home}");
    assert!(home.contains("data-testid=\"next-step\""));
    assert!(home.contains("À l'expiration du jeton"));
    assert!(home.contains(&format!(
        "/jetons/{token}/prolongation\" data-testid=\"home-prolong\""
    )));
    // The QR code and the kit it links to answer.
    assert_eq!(
        user.get(&format!("/collectivites/{siret}/qrcode.svg"))
            .await
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        user.get(&format!("/collectivites/{siret}/kit"))
            .await
            .status()
            .as_u16(),
        200
    );
    // Prolonging from there: 18 months more, and the button is gone.
    let response = user
        .post_form(
            &format!("/jetons/{token}/prolongation"),
            &[
                ("collectivite", "oui"),
                ("finalite", "oui"),
                ("contacts", "oui"),
            ],
        )
        .await;
    assert!(response.status().is_redirection() || response.status().is_success());
    let (_, after) = user.get_text("/").await;
    assert!(!after.contains("data-testid=\"home-prolong\""), "{after}");
}

#[tokio::test]
async fn admins_create_and_revoke_an_editeurs_keys_from_its_page() {
    let app = TestApp::spawn_with_demo().await;
    let editeur = crate::editeur_api::editeur_of(&app, MUSHROOM).await;
    let admin = app.signed_in(qf_backoffice::demo::DEMO_ADMIN).await;
    let staff = app.signed_in(qf_backoffice::demo::DEMO_INSTRUCTEUR).await;
    let path = format!("/editeurs/{editeur}/cles");
    assert_eq!(
        staff
            .post_form(&path, &[("name", "Non")])
            .await
            .status()
            .as_u16(),
        403
    );
    let response = admin.post_form(&path, &[("name", "Support")]).await;
    assert_eq!(response.status().as_u16(), 200);
    let key = key_in(&response.text().await.unwrap()).unwrap();
    assert_eq!(
        api_get(&app, "/api/v1/clients", Some(&key))
            .await
            .status()
            .as_u16(),
        200
    );
    let (_, page) = admin.get_text(&format!("/editeurs/{editeur}")).await;
    assert!(!page.contains(&key));
    let key_id = values(&page, "data-key")[0].clone();
    let revoke = format!("/editeurs/{editeur}/cles/{key_id}/revoquer");
    assert_eq!(admin.get(&revoke).await.status().as_u16(), 200);
    assert_eq!(admin.post_form(&revoke, &[]).await.status().as_u16(), 303);
    assert_eq!(
        api_get(&app, "/api/v1/clients", Some(&key))
            .await
            .status()
            .as_u16(),
        401
    );
    // A key of another éditeur is out of reach through this one.
    let other = crate::editeur_api::editeur_of(&app, ARPEGE).await;
    assert_eq!(
        admin
            .get(&format!("/editeurs/{other}/cles/{key_id}/revoquer"))
            .await
            .status()
            .as_u16(),
        404
    );
}
