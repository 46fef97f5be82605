//! HubEE subscriptions against a local HTTP server standing in for HubEE: provisioning on
//! approval (exact requests), retries after 500s and timeouts, updates after staff actions,
//! sync of statuses and unreconcilable differences; and the manual mode without HubEE.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use qf_backoffice::db::schema::{
    events, hubee_provisioning, hubee_subscriptions, hubee_sync_issues,
};
use qf_backoffice::demo::DEMO_INSTRUCTEUR;
use serde_json::json;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::TestApp;
use crate::webhook::{SECRET, SIRET, deliver, payload};

/// A HubEE where the collectivités' organizations already exist (the organization step itself
/// is tested against the strict stand-in in `provisioning`).
async fn hubee_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex(
            r"^/referential/v1/organizations/SI-\d{14}-\w{5}$",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"type": "SI"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "jeton-hubee", "token_type": "Bearer", "expires_in": 3600
        })))
        .mount(&server)
        .await;
    server
}

async fn spawn(server: &MockServer) -> TestApp {
    let app = TestApp::spawn_with(&[
        ("DATAPASS_WEBHOOK_SECRET", SECRET),
        ("HUBEE_AUTH_URL", &server.uri()),
        ("HUBEE_API_URL", &server.uri()),
        ("HUBEE_CLIENT_ID", "client-qf"),
        ("HUBEE_CLIENT_SECRET", "secret-hubee"),
        ("HUBEE_RETRY_DELAY", "0.2"),
        ("HUBEE_TIMEOUT", "1"),
        ("HUBEE_SYNC_INTERVAL", "1h"),
    ])
    .await;
    app.load_demo().await;
    app
}

/// Creates and approves request D501 for a new collectivité through the webhook (the demo's
/// Mushroom Software form, so the subscription is delegated to it).
async fn approve_new_request(app: &TestApp) -> String {
    for (i, event) in ["create", "submit", "approve"].iter().enumerate() {
        let (status, _) = deliver(app, &payload(event, 501, 1_790_000_000 + i as i64, SIRET)).await;
        assert_eq!(status, 200);
    }
    app.with_conn(|conn| {
        hubee_subscriptions::table
            .filter(hubee_subscriptions::datapass_id.eq(501))
            .select(hubee_subscriptions::id)
            .first(conn)
            .unwrap()
    })
    .await
}

async fn provisioning(app: &TestApp, id: &str) -> (String, i32, Option<String>, Option<String>) {
    let id = id.to_owned();
    app.with_conn(move |conn| {
        hubee_provisioning::table
            .inner_join(hubee_subscriptions::table)
            .filter(hubee_provisioning::subscription_id.eq(&id))
            .select((
                hubee_provisioning::state,
                hubee_provisioning::attempts,
                hubee_provisioning::last_error,
                hubee_subscriptions::hubee_id,
            ))
            .first(conn)
            .unwrap()
    })
    .await
}

async fn wait_for(
    app: &TestApp,
    id: &str,
    what: &str,
    check: impl Fn(&(String, i32, Option<String>, Option<String>)) -> bool,
) {
    let started = Instant::now();
    loop {
        let row = provisioning(app, id).await;
        if check(&row) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "waiting for {what}: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_approval_creates_the_subscription_in_hubee_with_the_exact_request() {
    let server = hubee_server().await;
    Mock::given(method("POST"))
        .and(path("/referential/v1/subscriptions"))
        .and(header("authorization", "Bearer jeton-hubee"))
        .and(body_partial_json(json!({
            "processCode": "FormulaireQF",
            "status": "Inactif",
            "notificationFrequency": "Unitaire",
            "datapassId": 501,
            "email": "marie.curie@saint-exemple.fr",
            "subscriber": {"type": "SI", "companyRegister": SIRET, "branchCode": "69123"},
            "localAdministrator": {"email": "marie.curie@saint-exemple.fr", "firstName": "Marie", "lastName": "Curie"}
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": "hubee-501", "processCode": "FormulaireQF", "status": "Inactif",
            "subscriber": {"type": "SI", "companyRegister": SIRET}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let app = spawn(&server).await;
    let id = approve_new_request(&app).await;
    wait_for(&app, &id, "creation", |r| r.0 == "done").await;
    let row = provisioning(&app, &id).await;
    assert_eq!(row.3.as_deref(), Some("hubee-501"));
    // The token request used Basic auth with the client credentials.
    let requests = server.received_requests().await.unwrap();
    // Access mode and delegation are the collectivité's choices on the HubEE portal.
    let created: serde_json::Value = requests
        .iter()
        .find(|r| r.method.as_str() == "POST" && r.url.path() == "/referential/v1/subscriptions")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .unwrap();
    assert!(created.get("accessMode").is_none(), "{created}");
    assert!(created.get("delegationActor").is_none(), "{created}");
    let token = requests
        .iter()
        .find(|r| r.url.path() == "/oauth2/token")
        .unwrap();
    assert_eq!(
        token
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap(),
        "Basic Y2xpZW50LXFmOnNlY3JldC1odWJlZQ=="
    );
    assert_eq!(
        String::from_utf8_lossy(&token.body),
        "grant_type=client_credentials&scope=ADMIN"
    );
}

#[tokio::test]
async fn hubee_down_for_a_while_loses_nothing_and_a_refusal_waits_for_staff() {
    let server = hubee_server().await;
    // Three failures (500, 500, a timeout), then success.
    Mock::given(method("POST"))
        .and(path("/referential/v1/subscriptions"))
        .respond_with(ResponseTemplate::new(500).set_body_string("indisponible"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/referential/v1/subscriptions"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_delay(Duration::from_secs(3))
                .set_body_json(json!({"id": "lent"})),
        )
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/referential/v1/subscriptions"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": "hubee-ok", "processCode": "FormulaireQF", "status": "Inactif",
            "subscriber": {"type": "SI", "companyRegister": SIRET}
        })))
        .with_priority(3)
        .mount(&server)
        .await;
    let app = spawn(&server).await;
    let id = approve_new_request(&app).await;
    wait_for(&app, &id, "a first failure", |r| r.1 >= 1 && r.2.is_some()).await;
    let row = provisioning(&app, &id).await;
    assert_eq!(row.0, "pending", "still queued after a failure");
    wait_for(&app, &id, "success after retries", |r| r.0 == "done").await;
    let row = provisioning(&app, &id).await;
    assert_eq!(row.3.as_deref(), Some("hubee-ok"));
    assert!(row.1 >= 4, "three failures then a success: {row:?}");

    // A refusal (400) is not retried: failed, shown to staff, retried by hand.
    Mock::given(method("PUT"))
        .and(path("/referential/v1/subscriptions/hubee-ok"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(json!({"message": "adresse refusée"})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/referential/v1/subscriptions/hubee-ok"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "hubee-ok", "processCode": "FormulaireQF", "status": "Inactif",
            "subscriber": {"type": "SI", "companyRegister": SIRET}
        })))
        .with_priority(2)
        .mount(&server)
        .await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let response = staff
        .post_form(
            &format!("/abonnements/{id}/notifications"),
            &[
                ("frequency", "Quotidienne"),
                ("email", "enfance@saint-exemple.fr"),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
    wait_for(&app, &id, "the refusal", |r| r.0 == "failed").await;
    let (_, page) = staff.get_text(&format!("/abonnements/{id}")).await;
    assert!(page.contains("En échec"), "{page}");
    assert!(page.contains("adresse refusée"));
    let response = staff
        .post_form(&format!("/abonnements/{id}/provisionner"), &[])
        .await;
    assert_eq!(response.status().as_u16(), 303);
    wait_for(&app, &id, "the manual retry", |r| r.0 == "done").await;
}

#[tokio::test]
async fn staff_actions_are_sent_to_hubee_and_the_sync_reads_hubee_back() {
    let server = hubee_server().await;
    Mock::given(method("POST"))
        .and(path("/referential/v1/subscriptions"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": "hubee-501", "processCode": "FormulaireQF", "status": "Inactif",
            "subscriber": {"type": "SI", "companyRegister": SIRET}
        })))
        .mount(&server)
        .await;
    let today = qf_backoffice::domain::calendar::paris_today();
    Mock::given(method("PUT"))
        .and(path("/referential/v1/subscriptions/hubee-501"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "hubee-501", "processCode": "FormulaireQF", "status": "Actif",
            "subscriber": {"type": "SI", "companyRegister": SIRET}
        })))
        .expect(2)
        .mount(&server)
        .await;
    let app = spawn(&server).await;
    let id = approve_new_request(&app).await;
    wait_for(&app, &id, "creation", |r| r.0 == "done").await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    for (route, fields) in [
        ("mode", vec![("access_mode", "PORTAIL")]),
        ("activation", vec![("date", &*today.to_string())]),
    ] {
        let response = staff
            .post_form(&format!("/abonnements/{id}/{route}"), &fields)
            .await;
        assert_eq!(response.status().as_u16(), 303, "{route}");
        wait_for(&app, &id, route, |r| r.0 == "done").await;
    }
    let puts: Vec<serde_json::Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "PUT")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(puts.len(), 2);
    assert_eq!(puts[0]["accessMode"], "PORTAIL");
    assert!(
        puts[0].get("delegationActor").is_none(),
        "no delegation in PORTAIL mode"
    );
    assert_eq!(puts[1]["status"], "Actif");
    assert_eq!(puts[1]["activateDateTime"], format!("{today}T00:00:00Z"));

    // HubEE now says: ours is suspended; another collectivité has one we do not know.
    Mock::given(method("GET"))
        .and(path("/referential/v1/subscriptions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "hubee-501", "processCode": "FormulaireQF", "status": "Suspendu", "accessMode": "PORTAIL",
             "activateDateTime": format!("{today}T00:00:00Z"),
             "subscriber": {"type": "SI", "companyRegister": SIRET}},
            {"id": "hubee-inconnu", "processCode": "FormulaireQF", "status": "Actif",
             "subscriber": {"type": "SI", "companyRegister": "21590512000016"}}
        ])))
        .mount(&server)
        .await;
    let client = app.state.hubee.clone().unwrap();
    let report = qf_backoffice::hubee::sync(&app.state.pool, &client)
        .await
        .unwrap();
    assert_eq!(report.read, 2);
    assert_eq!(report.changes.len(), 1, "{:?}", report.changes);
    let status: String = app
        .with_conn(|conn| {
            hubee_subscriptions::table
                .filter(hubee_subscriptions::hubee_id.eq("hubee-501"))
                .select(hubee_subscriptions::status)
                .first(conn)
                .unwrap()
        })
        .await;
    assert_eq!(status, "SUSPENDU");
    let logged: i64 = app
        .with_conn(|conn| {
            events::table
                .filter(events::action.eq("hubee.sync"))
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await;
    assert_eq!(logged, 1);
    let issues: Vec<(String, Option<String>)> = app
        .with_conn(|conn| {
            hubee_sync_issues::table
                .select((hubee_sync_issues::kind, hubee_sync_issues::siret))
                .load(conn)
                .unwrap()
        })
        .await;
    assert!(issues.contains(&("remote_only".into(), Some("21590512000016".into()))));
    assert!(
        !issues.iter().any(|(_, s)| s.as_deref() == Some(SIRET)),
        "ours is reconciled"
    );
    // The demo's subscriptions carry HubEE ids this HubEE does not know: listed for staff.
    assert!(issues.iter().filter(|(k, _)| k == "missing_remote").count() > 0);
    // A second sync changes nothing and does not repeat the issue.
    let again = qf_backoffice::hubee::sync(&app.state.pool, &client)
        .await
        .unwrap();
    assert!(again.changes.is_empty() && again.issues.is_empty());
    let (_, page) = staff.get_text("/abonnements/ecarts").await;
    assert!(page.contains("21590512000016"));
}

#[tokio::test]
async fn without_hubee_subscriptions_are_managed_by_hand() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let (_, list) = staff.get_text("/abonnements").await;
    assert!(list.contains("data-testid=\"hubee-manual\""));
    assert!(list.contains("Non configuré"));
    // API mode needs an éditeur.
    let response = staff
        .post_form(
            "/abonnements/demo-hubee-001/mode",
            &[("access_mode", "API"), ("editeur_siret", "")],
        )
        .await;
    assert_eq!(response.status().as_u16(), 400);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Le mode API demande")
    );
    // A past activation date is refused.
    let response = staff
        .post_form(
            "/abonnements/demo-hubee-001/activation",
            &[("date", "2000-01-01")],
        )
        .await;
    assert_eq!(response.status().as_u16(), 400);
    let today = qf_backoffice::domain::calendar::paris_today().to_string();
    let response = staff
        .post_form(
            "/abonnements/demo-hubee-001/activation",
            &[("date", &today)],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
    // Suspend after confirmation, then reactivate.
    let (status, confirm) = staff
        .get_text("/abonnements/demo-hubee-001/suspendre")
        .await;
    assert_eq!(status, 200);
    assert!(
        confirm.contains("Suspendre l&#x27;abonnement")
            || confirm.contains("Suspendre l'abonnement")
    );
    assert_eq!(
        staff
            .post_form("/abonnements/demo-hubee-001/suspendre", &[])
            .await
            .status()
            .as_u16(),
        303
    );
    let (_, page) = staff.get_text("/abonnements/demo-hubee-001").await;
    assert!(page.contains("data-testid=\"hubee-status\">Suspendu"));
    assert_eq!(
        staff
            .post_form("/abonnements/demo-hubee-001/reactivation", &[])
            .await
            .status()
            .as_u16(),
        303
    );
    let (_, page) = staff.get_text("/abonnements/demo-hubee-001").await;
    assert!(page.contains("data-testid=\"hubee-status\">Actif"));
    let logged: Vec<String> = app
        .with_conn(|conn| {
            events::table
                .filter(events::target_id.eq("demo-hubee-001"))
                .select(events::action)
                .load(conn)
                .unwrap()
        })
        .await;
    for action in ["hubee.activate", "hubee.suspend", "hubee.reactivate"] {
        assert!(logged.contains(&action.to_owned()), "{action}");
    }
    // Retrying provisioning makes no sense without HubEE.
    assert_eq!(
        staff
            .post_form("/abonnements/demo-hubee-001/provisionner", &[])
            .await
            .status()
            .as_u16(),
        400
    );
}
