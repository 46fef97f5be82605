//! ProConnect sign-in against the local OpenID provider of `oidc_provider`: the whole flow,
//! and each way it must refuse (forged or reused state, replayed code, wrong nonce, foreign
//! key, expired id_token, badly signed userinfo), sign-out through the end-session endpoint,
//! the second-factor retry and the no-access page.

use diesel::prelude::*;
use qf_backoffice::db::schema::events;
use qf_backoffice::routes::all_routes;

use crate::helpers::{TestApp, Visitor};
use crate::oidc_provider::{Alg, CLIENT_ID, Misbehaviour, TestProvider, TestUser};

const STAFF: &str = "claire.dupont@beta.gouv.fr";

async fn app_for(provider: &TestProvider, extra: &[(&str, &str)]) -> TestApp {
    let settings = provider.settings();
    let mut all: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    TestApp::spawn_with(&all).await
}

async fn add_staff(app: &TestApp, email: &'static str) {
    app.with_conn(move |conn| {
        qf_backoffice::models::accounts::upsert_staff(
            conn,
            email,
            qf_backoffice::domain::roles::StaffRole::Instructeur,
            "test",
            qf_backoffice::db::now(),
        )
        .unwrap();
    })
    .await;
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Clicks the button: the provider's authorize URL.
async fn click_button(visitor: &Visitor) -> String {
    let response = visitor.post_form("/connexion/proconnect", &[]).await;
    assert_eq!(response.status().as_u16(), 303);
    location(&response)
}

/// The provider signs the user in: the callback URL it sends the browser back to.
async fn at_provider(visitor: &Visitor, authorize_url: &str) -> String {
    let response = visitor.client.get(authorize_url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 302, "{authorize_url}");
    location(&response)
}

async fn open(visitor: &Visitor, url: &str) -> reqwest::Response {
    visitor.client.get(url).send().await.unwrap()
}

/// Button, provider, callback: the callback's answer.
async fn sign_in_through(visitor: &Visitor, provider: &TestProvider) -> reqwest::Response {
    let authorize = click_button(visitor).await;
    assert!(authorize.starts_with(&provider.issuer), "{authorize}");
    let callback = at_provider(visitor, &authorize).await;
    open(visitor, &callback).await
}

fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

fn param(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

async fn is_signed_in(visitor: &Visitor) -> bool {
    visitor.get("/").await.status().as_u16() == 200
}

async fn sign_in_events(app: &TestApp) -> Vec<(String, String, Option<String>)> {
    app.with_conn(|conn| {
        events::table
            .filter(events::action.like("auth.sign_in%"))
            .select((events::action, events::actor, events::details))
            .load(conn)
            .unwrap()
    })
    .await
}

#[tokio::test]
async fn a_staff_member_signs_in_end_to_end_and_the_sign_in_is_logged() {
    let provider = TestProvider::start(TestUser::new("Claire.Dupont@beta.gouv.fr")).await;
    let app = app_for(&provider, &[]).await;
    add_staff(&app, STAFF).await;

    let visitor = app.visitor();
    let (status, login) = visitor.get_text("/connexion").await;
    assert_eq!(status, 200);
    assert!(
        login.contains("action=\"/connexion/proconnect\""),
        "{login}"
    );
    assert!(login.contains("S’identifier avec"));
    assert!(
        login.contains("Recevoir un lien de connexion"),
        "the e-mail link stays"
    );

    let response = sign_in_through(&visitor, &provider).await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(location(&response), "/");
    let (status, home) = visitor.get_text("/").await;
    assert_eq!(status, 200);
    assert!(home.contains(STAFF), "{home}");

    // What was asked of the provider.
    let asked = &provider.authorize_queries()[0];
    assert_eq!(asked["client_id"], CLIENT_ID);
    assert_eq!(
        asked["scope"],
        "openid email given_name usual_name siret uid idp_id"
    );
    assert_eq!(asked["acr_values"], "eidas1");
    assert_eq!(asked["code_challenge_method"], "S256");
    assert_eq!(
        asked["redirect_uri"],
        format!("{}/connexion/proconnect/retour", app.address)
    );
    assert!(asked["state"].len() >= 40 && asked["nonce"].len() >= 40);
    assert_ne!(asked["state"], asked["nonce"]);

    // The sign-in is logged with sub, SIRET and idp_id; the staff sees the SIRET.
    let logged = sign_in_events(&app).await;
    assert_eq!(logged.len(), 1, "{logged:?}");
    let (action, actor, details) = &logged[0];
    assert_eq!((action.as_str(), actor.as_str()), ("auth.sign_in", STAFF));
    let details: serde_json::Value = serde_json::from_str(details.as_deref().unwrap()).unwrap();
    assert_eq!(details["method"], "proconnect");
    assert!(details["sub"].as_str().unwrap().starts_with("sub-"));
    assert_eq!(details["siret"], "21740056300011");
    assert_eq!(details["idp_id"], "idp-mairie");
    let (status, person) = visitor.get_text(&format!("/personnes/{STAFF}")).await;
    assert_eq!(status, 200);
    assert!(
        person.contains("data-testid=\"person-siret\">21740056300011<"),
        "{person}"
    );
    assert!(person.contains("idp-mairie"));
    let (_, journal) = visitor.get_text("/journal").await;
    assert!(
        journal.contains("href=\"/personnes/claire.dupont%40beta.gouv.fr\""),
        "{journal}"
    );
    let (status, _) = visitor.get_text("/personnes/personne@nulle-part.fr").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn forged_foreign_and_reused_states_are_refused() {
    let provider = TestProvider::start(TestUser::new(STAFF)).await;
    let app = app_for(&provider, &[]).await;
    add_staff(&app, STAFF).await;

    let visitor = app.visitor();
    let authorize = click_button(&visitor).await;
    let callback = at_provider(&visitor, &authorize).await;

    // A forged state: refused, and the real callback still works afterwards.
    let forged = open(&visitor, &with_param(&callback, "state", "etat-forge")).await;
    assert_eq!(forged.status().as_u16(), 400);
    assert!(
        forged
            .text()
            .await
            .unwrap()
            .contains("ne correspond à aucune connexion demandée")
    );
    let missing = open(
        &visitor,
        &format!("{}/connexion/proconnect/retour", app.address),
    )
    .await;
    assert_eq!(missing.status().as_u16(), 400);
    assert!(!is_signed_in(&visitor).await);

    // The same callback opened in another browser (login CSRF): refused there.
    let other = app.visitor();
    let foreign = open(&other, &callback).await;
    assert_eq!(foreign.status().as_u16(), 400);
    assert!(
        foreign
            .text()
            .await
            .unwrap()
            .contains("pas été demandée depuis ce navigateur")
    );
    assert!(!is_signed_in(&other).await);

    let ok = open(&visitor, &callback).await;
    assert_eq!(ok.status().as_u16(), 303);
    assert!(is_signed_in(&visitor).await);

    // Opened again: the state was used.
    let again = open(&visitor, &callback).await;
    assert_eq!(again.status().as_u16(), 400);
    assert!(again.text().await.unwrap().contains("déjà été utilisé"));
    assert_eq!(sign_in_events(&app).await.len(), 1);
}

#[tokio::test]
async fn a_replayed_code_is_refused() {
    let provider = TestProvider::start(TestUser::new(STAFF)).await;
    let app = app_for(&provider, &[]).await;
    add_staff(&app, STAFF).await;

    let first = app.visitor();
    let authorize = click_button(&first).await;
    let callback = at_provider(&first, &authorize).await;
    assert_eq!(open(&first, &callback).await.status().as_u16(), 303);
    let used_code = param(&callback, "code");

    // Another browser starts its own flow and comes back with the used code.
    let second = app.visitor();
    let authorize = click_button(&second).await;
    let state = param(&authorize, "state");
    let replay = format!(
        "{}/connexion/proconnect/retour?code={used_code}&state={state}",
        app.address
    );
    let response = open(&second, &replay).await;
    assert_eq!(response.status().as_u16(), 400);
    let page = response.text().await.unwrap();
    assert!(page.contains("autorisation a déjà servi"), "{page}");
    assert!(!page.contains(&used_code), "the code is not shown");
    assert_eq!(provider.token_errors(), vec!["invalid_grant".to_owned()]);
    assert!(!is_signed_in(&second).await);
    assert_eq!(sign_in_events(&app).await.len(), 1);
}

#[tokio::test]
async fn identities_that_fail_verification_are_refused() {
    let provider = TestProvider::start(TestUser::new(STAFF)).await;
    let app = app_for(&provider, &[]).await;
    add_staff(&app, STAFF).await;
    for misbehaviour in [
        Misbehaviour::WrongNonce,
        Misbehaviour::IdTokenOtherKey,
        Misbehaviour::ExpiredIdToken,
        Misbehaviour::UserinfoBadSignature,
        Misbehaviour::UserinfoUnsigned,
        Misbehaviour::WrongAudience,
    ] {
        provider.misbehave(misbehaviour);
        let visitor = app.visitor();
        let response = sign_in_through(&visitor, &provider).await;
        assert_eq!(response.status().as_u16(), 400, "{misbehaviour:?}");
        let page = response.text().await.unwrap();
        assert!(
            page.contains("pas pu être vérifiée"),
            "{misbehaviour:?}: {page}"
        );
        assert!(!is_signed_in(&visitor).await, "{misbehaviour:?}");
    }
    assert!(sign_in_events(&app).await.is_empty());

    // The same provider behaving again: the sign-in works (nothing was cached wrongly).
    provider.misbehave(Misbehaviour::None);
    let visitor = app.visitor();
    assert_eq!(
        sign_in_through(&visitor, &provider).await.status().as_u16(),
        303
    );
    assert!(is_signed_in(&visitor).await);
}

#[tokio::test]
async fn es256_signatures_and_rotated_keys_are_accepted() {
    let provider = TestProvider::start(TestUser::new(STAFF)).await;
    let app = app_for(&provider, &[]).await;
    add_staff(&app, STAFF).await;
    let signs_in = || async {
        let visitor = app.visitor();
        let status = sign_in_through(&visitor, &provider).await.status().as_u16();
        status == 303 && is_signed_in(&visitor).await
    };
    assert!(signs_in().await);
    assert_eq!(provider.jwks_fetches(), 1);
    assert!(signs_in().await);
    assert_eq!(
        provider.jwks_fetches(),
        1,
        "the keys are kept between sign-ins"
    );

    provider.use_algorithm(Alg::Es256);
    assert!(signs_in().await, "ES256");

    // A new key under a new id: the keys are fetched again, once.
    provider.use_algorithm(Alg::Rs256);
    provider.rotate_key();
    assert!(signs_in().await, "rotated key");
    assert_eq!(provider.jwks_fetches(), 2);
}

#[tokio::test]
async fn sign_out_goes_through_the_end_session_endpoint() {
    let provider = TestProvider::start(TestUser::new(STAFF)).await;
    let app = app_for(&provider, &[]).await;
    add_staff(&app, STAFF).await;
    let visitor = app.visitor();
    assert_eq!(
        sign_in_through(&visitor, &provider).await.status().as_u16(),
        303
    );

    let response = visitor.post_form("/deconnexion", &[]).await;
    assert_eq!(response.status().as_u16(), 303);
    let end_session = location(&response);
    assert!(
        end_session.starts_with(&format!("{}/session/end?", provider.issuer)),
        "{end_session}"
    );
    assert_eq!(
        param(&end_session, "id_token_hint"),
        provider.id_tokens()[0]
    );
    assert_eq!(
        param(&end_session, "post_logout_redirect_uri"),
        format!("{}/deconnexion/proconnect", app.address)
    );
    assert!(param(&end_session, "state").len() >= 32);
    // The local session is over before the browser even reaches ProConnect.
    assert!(!is_signed_in(&visitor).await);

    let back = open(&visitor, &end_session).await;
    assert_eq!(back.status().as_u16(), 302);
    let landing = open(&visitor, &location(&back)).await;
    assert_eq!(landing.status().as_u16(), 200);
    assert!(
        landing
            .text()
            .await
            .unwrap()
            .contains("déconnecté du back-office et de ProConnect")
    );
    assert_eq!(provider.end_session_queries().len(), 1);
    // A forged landing only sends to the sign-in page.
    let forged = visitor.get("/deconnexion/proconnect?state=faux").await;
    assert_eq!(location(&forged), "/connexion");

    // An e-mail-link session signs out locally only.
    let by_link = app.signed_in(STAFF).await;
    let response = by_link.post_form("/deconnexion", &[]).await;
    assert_eq!(location(&response), "/connexion");
    assert_eq!(provider.end_session_queries().len(), 1);
}

#[tokio::test]
async fn an_identity_without_role_gets_the_no_access_page() {
    let provider = TestProvider::start(TestUser::new("inconnu@mairie.fr")).await;
    let app = app_for(&provider, &[]).await;
    let visitor = app.visitor();
    let response = sign_in_through(&visitor, &provider).await;
    assert_eq!(response.status().as_u16(), 403);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("n'a accès à aucune page du back-office")
    );
    assert!(!is_signed_in(&visitor).await);
    let logged = sign_in_events(&app).await;
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].0, "auth.sign_in_refused");
}

#[tokio::test]
async fn organisations_requiring_a_second_factor_are_asked_again_with_eidas2() {
    let mut user = TestUser::new(STAFF);
    user.idp_id = "idp-exigeant".into();
    let provider = TestProvider::start(user.clone()).await;
    let app = app_for(&provider, &[("PROCONNECT_MFA_IDPS", "autre, idp-exigeant")]).await;
    add_staff(&app, STAFF).await;

    let visitor = app.visitor();
    let first = sign_in_through(&visitor, &provider).await;
    assert_eq!(first.status().as_u16(), 303);
    let again = location(&first);
    assert!(again.starts_with(&provider.issuer), "asked again: {again}");
    assert_eq!(param(&again, "acr_values"), "eidas2");
    assert!(!is_signed_in(&visitor).await);
    let callback = at_provider(&visitor, &again).await;
    let done = open(&visitor, &callback).await;
    assert_eq!(location(&done), "/");
    assert!(is_signed_in(&visitor).await);

    // An organisation that never confirms the second factor: refused after the retry.
    user.mfa_on_eidas2 = false;
    provider.set_user(user);
    let visitor = app.visitor();
    let first = sign_in_through(&visitor, &provider).await;
    let callback = at_provider(&visitor, &location(&first)).await;
    let refused = open(&visitor, &callback).await;
    assert_eq!(refused.status().as_u16(), 403);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("exige une double authentification")
    );
    assert!(!is_signed_in(&visitor).await);
    let asked: Vec<String> = provider
        .authorize_queries()
        .iter()
        .map(|q| q["acr_values"].clone())
        .collect();
    assert_eq!(asked, ["eidas1", "eidas2", "eidas1", "eidas2"]);
}

#[tokio::test]
async fn an_unreachable_provider_gets_a_clear_page() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let issuer = format!("http://127.0.0.1:{port}/api/v2");
    let app = TestApp::spawn_with(&[
        ("PROCONNECT_ISSUER", &issuer),
        ("PROCONNECT_CLIENT_ID", "client"),
        ("PROCONNECT_CLIENT_SECRET", "secret"),
    ])
    .await;
    let visitor = app.visitor();
    let response = visitor.post_form("/connexion/proconnect", &[]).await;
    assert_eq!(response.status().as_u16(), 502);
    assert!(response.text().await.unwrap().contains("ne répond pas"));
}

#[tokio::test]
async fn without_configuration_only_the_email_link_is_offered() {
    let app = TestApp::spawn().await;
    let visitor = app.visitor();
    let (_, login) = visitor.get_text("/connexion").await;
    assert!(!login.contains("/connexion/proconnect"));
    assert!(login.contains("Recevoir un lien de connexion"));
    let response = visitor.post_form("/connexion/proconnect", &[]).await;
    assert_eq!(response.status().as_u16(), 404);
    let response = visitor
        .get("/connexion/proconnect/retour?code=a&state=b")
        .await;
    assert_eq!(response.status().as_u16(), 404);
}

/// Every POST route refuses a request without the session's CSRF token, signed in or not —
/// ProConnect's button included. Webhooks carry their own signature instead.
#[tokio::test]
async fn every_post_route_requires_the_csrf_token() {
    let provider = TestProvider::start(TestUser::new(STAFF)).await;
    let app = app_for(&provider, &[]).await;
    add_staff(&app, STAFF).await;
    let anonymous = app.visitor();
    let staff = app.signed_in(STAFF).await;
    let mut checked = 0;
    for (method, pattern) in all_routes() {
        if method != "post" || pattern.starts_with("/webhooks/") {
            continue;
        }
        let path = pattern
            .split('/')
            .map(|part| if part.starts_with('{') { "x" } else { part })
            .collect::<Vec<_>>()
            .join("/");
        for visitor in [&anonymous, &staff] {
            let response = visitor.post_raw(&path, &[("champ", "valeur")]).await;
            assert_eq!(response.status().as_u16(), 403, "POST {path}");
            checked += 1;
        }
    }
    assert!(checked >= 2 * 20, "{checked}");
    assert!(is_signed_in(&staff).await);
    assert!(provider.authorize_queries().is_empty());
}
