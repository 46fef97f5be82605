//! The HubEE client against a real HTTP server on loopback: the exact token and API requests,
//! the token cache and its renewals, and every kind of failure.

use std::time::Duration;

use base64::Engine as _;
use qf_backoffice::clients::hubee::{
    DelegationActor, HubeeClient, HubeeConfig, HubeeError, LocalAdministrator, RemoteSubscription,
    Subscriber,
};
use qf_backoffice::config::Secret;
use qf_backoffice::domain::hubee::SubscriptionStatus;
use wiremock::matchers::{body_json, body_string, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const CLIENT_ID: &str = "qf-backoffice";
const CLIENT_SECRET: &str = "s3cr3t-du-client";
const SIRET: &str = "21750001600019";
const EDITEUR_SIRET: &str = "41816609600069";
const SUBSCRIPTIONS: &str = "/referential/v1/subscriptions";

fn config(server: &MockServer, timeout: Duration) -> HubeeConfig {
    HubeeConfig {
        auth_url: server.uri(),
        api_url: server.uri(),
        client_id: CLIENT_ID.to_owned(),
        client_secret: Secret::new(CLIENT_SECRET),
        timeout,
    }
}

fn client_for(server: &MockServer) -> HubeeClient {
    HubeeClient::new(config(server, Duration::from_secs(5)))
}

fn basic_auth() -> String {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    format!("Basic {encoded}")
}

fn token_json(token: &str, expires_in: u64) -> serde_json::Value {
    serde_json::json!({"access_token": token, "token_type": "Bearer", "expires_in": expires_in, "scope": "ADMIN"})
}

/// The exact token request, answering `token` valid for an hour; expected `times` times.
async fn mount_token(server: &MockServer, token: &str, times: u64) {
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .and(header("authorization", basic_auth().as_str()))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(header("accept", "application/json"))
        .and(body_string("grant_type=client_credentials&scope=ADMIN"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json(token, 3600)))
        .expect(times)
        .mount(server)
        .await;
}

fn remote_json(id: &str, status: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "processCode": "FormulaireQF",
        "status": status,
        "accessMode": "API",
        "notificationFrequency": "Unitaire",
        "email": "qf@mairie.example",
        "dataPassId": "D12345",
        "subscriber": {"type": "SI", "companyRegister": SIRET, "branchCode": "75056", "name": "VILLE DE PARIS"},
        "localAdministrator": {"email": "admin@mairie.example", "firstName": "Camille"},
        "delegationActor": {"type": "EDT", "companyRegister": EDITEUR_SIRET},
        "activateDateTime": "2024-05-01T00:00:00.000+02:00",
        "endDateTime": null,
        "creationDateTime": "2024-04-20T09:12:00Z",
        "updateDateTime": "2024-04-21T10:00:00Z",
        "rejectReason": null
    })
}

fn new_subscription() -> RemoteSubscription {
    RemoteSubscription {
        id: None,
        process_code: "FormulaireQF".to_owned(),
        status: "Inactif".to_owned(),
        access_mode: Some("API".to_owned()),
        notification_frequency: Some("Unitaire".to_owned()),
        email: Some("qf@mairie.example".to_owned()),
        data_pass_id: Some("D12345".to_owned()),
        subscriber: Subscriber {
            kind: "SI".to_owned(),
            company_register: SIRET.to_owned(),
            branch_code: Some("75056".to_owned()),
        },
        local_administrator: Some(LocalAdministrator {
            email: "admin@mairie.example".to_owned(),
        }),
        delegation_actor: Some(DelegationActor {
            kind: "EDT".to_owned(),
            company_register: EDITEUR_SIRET.to_owned(),
        }),
        activate_date_time: Some("2024-05-01".to_owned()),
        end_date_time: None,
        creation_date_time: None,
        update_date_time: None,
    }
}

fn not_leaking(error: &HubeeError) {
    let printed = format!("{error} {error:?}");
    assert!(!printed.contains(CLIENT_SECRET), "{printed}");
    assert!(!printed.contains("tok-1"), "{printed}");
}

#[tokio::test]
async fn create_sends_the_exact_requests() {
    let server = MockServer::start().await;
    mount_token(&server, "tok-1", 1).await;
    Mock::given(method("POST"))
        .and(path(SUBSCRIPTIONS))
        .and(header("authorization", "Bearer tok-1"))
        .and(header("content-type", "application/json"))
        .and(header("accept", "application/json"))
        .and(body_json(serde_json::json!({
            "processCode": "FormulaireQF",
            "status": "Inactif",
            "accessMode": "API",
            "notificationFrequency": "Unitaire",
            "email": "qf@mairie.example",
            "dataPassId": "D12345",
            "subscriber": {"type": "SI", "companyRegister": SIRET, "branchCode": "75056"},
            "localAdministrator": {"email": "admin@mairie.example"},
            "delegationActor": {"type": "EDT", "companyRegister": EDITEUR_SIRET},
            "activateDateTime": "2024-05-01"
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(remote_json("sub-42", "Inactif")))
        .expect(1)
        .mount(&server)
        .await;

    let created = client_for(&server)
        .create_subscription(&new_subscription())
        .await;
    let created = created.unwrap_or_else(|e| panic!("création refusée : {e}"));
    assert_eq!(created.id.as_deref(), Some("sub-42"));
    assert_eq!(created.status_code(), Some(SubscriptionStatus::Inactif));
    assert_eq!(
        created.activation_date(),
        chrono::NaiveDate::from_ymd_opt(2024, 5, 1)
    );
    assert_eq!(created.end_date(), None);
    assert_eq!(
        created.local_administrator,
        Some(LocalAdministrator {
            email: "admin@mairie.example".to_owned()
        })
    );
    assert_eq!(created.subscriber.branch_code.as_deref(), Some("75056"));
}

#[tokio::test]
async fn a_created_subscription_without_id_is_unreadable() {
    let server = MockServer::start().await;
    mount_token(&server, "tok-1", 1).await;
    let mut body = remote_json("x", "Inactif");
    if let Some(object) = body.as_object_mut() {
        object.remove("id");
    }
    Mock::given(method("POST"))
        .and(path(SUBSCRIPTIONS))
        .respond_with(ResponseTemplate::new(201).set_body_json(body))
        .mount(&server)
        .await;
    let outcome = client_for(&server)
        .create_subscription(&new_subscription())
        .await;
    assert!(
        matches!(&outcome, Err(HubeeError::InvalidResponse(_))),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn the_token_is_cached_across_calls() {
    let server = MockServer::start().await;
    mount_token(&server, "tok-1", 1).await;
    Mock::given(method("GET"))
        .and(path(format!("{SUBSCRIPTIONS}/sub-42")))
        .and(header("authorization", "Bearer tok-1"))
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(remote_json("sub-42", "Actif")))
        .expect(2)
        .mount(&server)
        .await;

    let client = client_for(&server);
    let first = client.get_subscription("sub-42").await;
    // A clone shares the cached token.
    let second = client.clone().get_subscription("sub-42").await;
    for outcome in [first, second] {
        let remote = outcome.ok().flatten();
        assert_eq!(
            remote.and_then(|r| r.status_code()),
            Some(SubscriptionStatus::Actif)
        );
    }
}

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(token_json("tok-1", 3600))
                .set_delay(Duration::from_millis(200)),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SUBSCRIPTIONS))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
        .expect(5)
        .mount(&server)
        .await;

    let client = client_for(&server);
    let calls = (0..5).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.list_subscriptions(None, None, None).await })
    });
    for call in futures_util::future::join_all(calls).await {
        assert_eq!(call.ok(), Some(Ok(Vec::new())));
    }
}

#[tokio::test]
async fn the_token_is_renewed_after_expiry() {
    let server = MockServer::start().await;
    // 61 s minus the 60 s margin: the token is renewed after one second.
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json("tok-1", 61)))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json("tok-2", 61)))
        .expect(1)
        .mount(&server)
        .await;
    for (token, times) in [("tok-1", 2), ("tok-2", 1)] {
        Mock::given(method("GET"))
            .and(path(SUBSCRIPTIONS))
            .and(header("authorization", format!("Bearer {token}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
            .expect(times)
            .mount(&server)
            .await;
    }

    let client = client_for(&server);
    assert!(client.list_subscriptions(None, None, None).await.is_ok());
    assert!(client.list_subscriptions(None, None, None).await.is_ok());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(client.list_subscriptions(None, None, None).await.is_ok());
}

#[tokio::test]
async fn a_401_renews_the_token_and_replays_the_call_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json("tok-1", 3600)))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    mount_token(&server, "tok-2", 1).await;
    Mock::given(method("PUT"))
        .and(path(format!("{SUBSCRIPTIONS}/sub-42")))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(401).set_body_string("jeton expiré"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{SUBSCRIPTIONS}/sub-42")))
        .and(header("authorization", "Bearer tok-2"))
        .and(body_json(
            serde_json::to_value(new_subscription()).unwrap_or_default(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(remote_json("sub-42", "Actif")))
        .expect(1)
        .mount(&server)
        .await;

    let updated = client_for(&server)
        .update_subscription("sub-42", &new_subscription())
        .await;
    assert_eq!(
        updated.ok().and_then(|r| r.status_code()),
        Some(SubscriptionStatus::Actif)
    );
}

#[tokio::test]
async fn a_second_401_is_unauthorized() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json("tok-1", 3600)))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{SUBSCRIPTIONS}/sub-42")))
        .respond_with(ResponseTemplate::new(401).set_body_string("invalid token tok-1"))
        .expect(2)
        .mount(&server)
        .await;

    let error = client_for(&server).get_subscription("sub-42").await.err();
    let Some(error) = error else {
        panic!("un 401 persistant doit être une erreur");
    };
    assert!(matches!(error, HubeeError::Unauthorized(_)), "{error:?}");
    assert!(!error.is_retryable());
    not_leaking(&error);
}

#[tokio::test]
async fn refused_credentials_are_unauthorized() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "error": "invalid_client",
            "error_description": format!("bad secret {CLIENT_SECRET}")
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SUBSCRIPTIONS))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
        .expect(0)
        .mount(&server)
        .await;

    let outcome = client_for(&server)
        .list_subscriptions(None, None, None)
        .await;
    let Err(error) = outcome else {
        panic!("des identifiants refusés doivent être une erreur");
    };
    assert!(matches!(&error, HubeeError::Unauthorized(m) if m.contains("invalid_client")));
    assert!(!error.is_retryable());
    not_leaking(&error);
}

#[tokio::test]
async fn list_sends_only_the_filters_given() {
    let server = MockServer::start().await;
    mount_token(&server, "tok-1", 1).await;
    Mock::given(method("GET"))
        .and(path(SUBSCRIPTIONS))
        .and(query_param("processCode", "FormulaireQF"))
        .and(query_param("companyRegister", SIRET))
        .and(query_param("status", "Refusé"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!([remote_json("sub-42", "REFUSÉ")])),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SUBSCRIPTIONS))
        .and(|request: &Request| {
            request
                .url
                .query_pairs()
                .map(|(name, _)| name.into_owned())
                .collect::<Vec<_>>()
                == ["processCode"]
        })
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "content": [remote_json("sub-1", "Actif"), remote_json("sub-2", "Suspendu")],
            "totalElements": 2,
            "number": 0
        })))
        .expect(1)
        .mount(&server)
        .await;

    let client = client_for(&server);
    let refused = client
        .list_subscriptions(
            Some("FormulaireQF"),
            Some(SIRET),
            Some(SubscriptionStatus::Refuse),
        )
        .await;
    let refused = refused.unwrap_or_default();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].status_code(), Some(SubscriptionStatus::Refuse));

    // The paginated shape.
    let all = client
        .list_subscriptions(Some("FormulaireQF"), None, None)
        .await
        .unwrap_or_default();
    let ids: Vec<_> = all.iter().filter_map(|r| r.id.as_deref()).collect();
    assert_eq!(ids, ["sub-1", "sub-2"]);
    assert_eq!(all[1].status_code(), Some(SubscriptionStatus::Suspendu));
}

#[tokio::test]
async fn get_returns_none_on_404() {
    let server = MockServer::start().await;
    mount_token(&server, "tok-1", 1).await;
    Mock::given(method("GET"))
        .and(path(format!("{SUBSCRIPTIONS}/inconnu")))
        .respond_with(ResponseTemplate::new(404).set_body_string("Not Found"))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        client_for(&server).get_subscription("inconnu").await,
        Ok(None)
    );
}

#[tokio::test]
async fn update_of_an_unknown_subscription_is_rejected() {
    let server = MockServer::start().await;
    mount_token(&server, "tok-1", 1).await;
    Mock::given(method("PUT"))
        .and(path(format!("{SUBSCRIPTIONS}/inconnu")))
        .respond_with(ResponseTemplate::new(404).set_body_string("abonnement introuvable"))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = client_for(&server)
        .update_subscription("inconnu", &new_subscription())
        .await;
    assert_eq!(
        outcome,
        Err(HubeeError::Rejected {
            status: 404,
            message: "abonnement introuvable".to_owned()
        })
    );
}

#[tokio::test]
async fn a_500_is_unavailable_and_retryable() {
    let server = MockServer::start().await;
    mount_token(&server, "tok-1", 1).await;
    Mock::given(method("POST"))
        .and(path(SUBSCRIPTIONS))
        .respond_with(ResponseTemplate::new(500).set_body_string("erreur interne"))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = client_for(&server)
        .create_subscription(&new_subscription())
        .await;
    let Err(error) = outcome else {
        panic!("un 500 doit être une erreur");
    };
    assert!(
        matches!(&error, HubeeError::Unavailable(m) if m.contains("500") && m.contains("erreur interne")),
        "{error:?}"
    );
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_timeout_is_unavailable() {
    let server = MockServer::start().await;
    mount_token(&server, "tok-1", 1).await;
    Mock::given(method("GET"))
        .and(path(SUBSCRIPTIONS))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!([]))
                .set_delay(Duration::from_secs(2)),
        )
        .mount(&server)
        .await;
    let client = HubeeClient::new(config(&server, Duration::from_millis(200)));
    let outcome = client.list_subscriptions(None, None, None).await;
    let Err(error) = outcome else {
        panic!("un délai dépassé doit être une erreur");
    };
    assert_eq!(
        error,
        HubeeError::Unavailable("HubEE n'a pas répondu à temps.".to_owned())
    );
    assert!(error.is_retryable());
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    // A port that was free a moment ago: nothing listens on it (wiremock pools its servers,
    // so dropping one does not close it).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or(9);
    let url = format!("http://127.0.0.1:{port}");
    let config = HubeeConfig {
        auth_url: url.clone(),
        api_url: url,
        client_id: CLIENT_ID.to_owned(),
        client_secret: Secret::new(CLIENT_SECRET),
        timeout: Duration::from_secs(2),
    };
    let outcome = HubeeClient::new(config)
        .list_subscriptions(None, None, None)
        .await;
    assert!(
        matches!(&outcome, Err(e @ HubeeError::Unavailable(_)) if e.is_retryable()),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_400_is_rejected_with_the_message() {
    let server = MockServer::start().await;
    mount_token(&server, "tok-1", 1).await;
    let long = "x".repeat(500);
    Mock::given(method("POST"))
        .and(path(SUBSCRIPTIONS))
        .respond_with(
            ResponseTemplate::new(400).set_body_string(format!("dataPassId invalide {long}")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let outcome = client_for(&server)
        .create_subscription(&new_subscription())
        .await;
    let Err(error) = outcome else {
        panic!("un 400 doit être une erreur");
    };
    let HubeeError::Rejected { status, message } = &error else {
        panic!("un 400 doit être un refus : {error:?}");
    };
    assert_eq!(*status, 400);
    assert!(message.starts_with("dataPassId invalide xxx"), "{message}");
    assert_eq!(message.chars().count(), 301, "300 caractères et « … »");
    assert!(!error.is_retryable());
    assert!(
        error
            .to_string()
            .starts_with("HubEE a refusé la requête (HTTP 400) : dataPassId invalide"),
        "{error}"
    );
}

#[tokio::test]
async fn an_unreadable_answer_is_invalid() {
    let server = MockServer::start().await;
    mount_token(&server, "tok-1", 1).await;
    Mock::given(method("GET"))
        .and(path(SUBSCRIPTIONS))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"))
        .mount(&server)
        .await;
    let outcome = client_for(&server)
        .list_subscriptions(None, None, None)
        .await;
    assert!(
        matches!(&outcome, Err(e @ HubeeError::InvalidResponse(_)) if !e.is_retryable()),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_token_answer_without_token_is_invalid() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"token_type": "Bearer", "expires_in": 3600})),
        )
        .mount(&server)
        .await;
    let outcome = client_for(&server).get_subscription("sub-42").await;
    assert!(
        matches!(&outcome, Err(HubeeError::InvalidResponse(_))),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_paged_list_is_read_to_its_last_page() {
    let server = MockServer::start().await;
    mount_token(&server, "tok-1", 1).await;
    for page in 0..3u32 {
        let mut mock = Mock::given(method("GET"))
            .and(path(SUBSCRIPTIONS))
            .and(query_param("companyRegister", SIRET));
        if page > 0 {
            mock = mock.and(query_param("page", page.to_string()));
        } else {
            mock = mock.and(|request: &Request| {
                !request.url.query_pairs().any(|(name, _)| name == "page")
            });
        }
        // Only `totalPages` and `number` say where the list ends.
        mock.respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "content": [remote_json(&format!("sub-{page}"), "Actif")],
            "totalPages": 3,
            "number": page
        })))
        .expect(1)
        .mount(&server)
        .await;
    }
    let all = client_for(&server)
        .list_subscriptions(None, Some(SIRET), None)
        .await
        .unwrap();
    let ids: Vec<_> = all.iter().filter_map(|r| r.id.as_deref()).collect();
    assert_eq!(ids, ["sub-0", "sub-1", "sub-2"]);
}
