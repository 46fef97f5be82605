//! The Sirene client against a real HTTP server on loopback: every outcome, never an error.

use std::time::Duration;

use qf_backoffice::clients::sirene::{Establishment, SireneClient, SireneLookup};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SIRET: &str = "21750001600019";

fn establishment_json(state: &str) -> serde_json::Value {
    serde_json::json!({
        "header": {"statut": 200, "message": "ok"},
        "etablissement": {
            "siren": "217500016",
            "nic": "00019",
            "siret": SIRET,
            "etablissementSiege": true,
            "uniteLegale": {
                "denominationUniteLegale": "VILLE DE PARIS",
                "categorieJuridiqueUniteLegale": "7229",
                "etatAdministratifUniteLegale": "A"
            },
            "adresseEtablissement": {
                "numeroVoieEtablissement": "4",
                "libelleVoieEtablissement": "DE LOBAU",
                "codePostalEtablissement": "75004",
                "libelleCommuneEtablissement": "PARIS 4",
                "codeCommuneEtablissement": "75056"
            },
            "periodesEtablissement": [
                {"dateFin": null, "dateDebut": "2015-01-01", "etatAdministratifEtablissement": state},
                {"dateFin": "2014-12-31", "dateDebut": "1983-03-01", "etatAdministratifEtablissement": "A"}
            ]
        }
    })
}

fn client_for(server: &MockServer) -> SireneClient {
    SireneClient::new(Some(server.uri()), None)
}

fn expected(active: bool) -> Establishment {
    Establishment {
        siret: SIRET.to_owned(),
        name: Some("VILLE DE PARIS".to_owned()),
        commune_code: Some("75056".to_owned()),
        postal_code: Some("75004".to_owned()),
        active,
    }
}

#[tokio::test]
async fn found_active() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/siret/{SIRET}")))
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(establishment_json("A")))
        .expect(1)
        .mount(&server)
        .await;
    let lookup = client_for(&server).lookup(SIRET).await;
    assert_eq!(lookup, SireneLookup::Found(expected(true)));
}

#[tokio::test]
async fn found_closed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/siret/{SIRET}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(establishment_json("F")))
        .mount(&server)
        .await;
    // Spaces as typed by a person are ignored.
    let lookup = client_for(&server).lookup("217 500 016 00019").await;
    assert_eq!(lookup, SireneLookup::Found(expected(false)));
}

#[tokio::test]
async fn base_url_with_a_path_and_trailing_slash() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/api-sirene/3.11/siret/{SIRET}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(establishment_json("A")))
        .expect(1)
        .mount(&server)
        .await;
    let client = SireneClient::new(Some(format!("{}/api-sirene/3.11/", server.uri())), None);
    assert_eq!(
        client.lookup(SIRET).await,
        SireneLookup::Found(expected(true))
    );
}

#[tokio::test]
async fn unknown_siret_is_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_json(serde_json::json!({
            "header": {"statut": 404, "message": "Aucun élément trouvé pour le siret 21750001600019"}
        })))
        .mount(&server)
        .await;
    assert_eq!(
        client_for(&server).lookup(SIRET).await,
        SireneLookup::NotFound
    );
}

#[tokio::test]
async fn malformed_siret_is_not_found_without_asking() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let client = client_for(&server);
    for siret in ["", "2175000160001", "2175000160001A", "../../admin"] {
        assert_eq!(
            client.lookup(siret).await,
            SireneLookup::NotFound,
            "{siret}"
        );
    }
}

#[tokio::test]
async fn server_error_is_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500).set_body_string("Internal Server Error"))
        .mount(&server)
        .await;
    assert_eq!(
        client_for(&server).lookup(SIRET).await,
        SireneLookup::Unavailable("Sirene a répondu par une erreur (HTTP 500).".to_owned())
    );
}

#[tokio::test]
async fn refused_key_is_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let SireneLookup::Unavailable(reason) = client_for(&server).lookup(SIRET).await else {
        panic!("expected Unavailable");
    };
    assert!(reason.contains("HTTP 401"), "{reason}");
    assert!(reason.contains("clé d'API"), "{reason}");
}

#[tokio::test]
async fn malformed_json_is_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_string(r#"{"etablissement": {"siret": "2175"#),
        )
        .mount(&server)
        .await;
    assert_eq!(
        client_for(&server).lookup(SIRET).await,
        SireneLookup::Unavailable("Réponse de Sirene illisible.".to_owned())
    );
}

#[tokio::test]
async fn unexpected_json_shape_is_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"etablissement": {"siret": SIRET}})),
        )
        .mount(&server)
        .await;
    assert_eq!(
        client_for(&server).lookup(SIRET).await,
        SireneLookup::Unavailable("Réponse de Sirene illisible.".to_owned())
    );
}

#[tokio::test]
async fn slow_answer_is_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(establishment_json("A"))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let client = client_for(&server).with_timeout(Duration::from_millis(200));
    let started = std::time::Instant::now();
    let lookup = client.lookup(SIRET).await;
    assert_eq!(
        lookup,
        SireneLookup::Unavailable("Sirene n'a pas répondu à temps.".to_owned())
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn unreachable_server_is_unavailable() {
    // Bind then drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let client = SireneClient::new(Some(format!("http://127.0.0.1:{port}")), None)
        .with_timeout(Duration::from_secs(2));
    assert_eq!(
        client.lookup(SIRET).await,
        SireneLookup::Unavailable("Sirene est injoignable.".to_owned())
    );
}

#[tokio::test]
async fn api_key_header_is_sent_when_configured() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/siret/{SIRET}")))
        .and(header("X-INSEE-Api-Key-Integration", "cle-de-test"))
        .respond_with(ResponseTemplate::new(200).set_body_json(establishment_json("A")))
        .expect(1)
        .mount(&server)
        .await;
    let client = SireneClient::new(Some(server.uri()), Some("cle-de-test".to_owned()));
    assert_eq!(
        client.lookup(SIRET).await,
        SireneLookup::Found(expected(true))
    );
}

#[tokio::test]
async fn no_api_key_header_without_a_key() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(establishment_json("A")))
        .mount(&server)
        .await;
    let client = SireneClient::new(Some(server.uri()), Some("  ".to_owned()));
    assert!(matches!(client.lookup(SIRET).await, SireneLookup::Found(_)));
    let requests = server.received_requests().await.expect("recording on");
    assert_eq!(requests.len(), 1);
    assert!(
        !requests[0]
            .headers
            .contains_key("x-insee-api-key-integration")
    );
}

#[tokio::test]
async fn not_configured_without_base_url() {
    let client = SireneClient::new(None, Some("cle-de-test".to_owned()));
    assert!(!client.is_configured());
    assert_eq!(client.lookup(SIRET).await, SireneLookup::NotConfigured);
    let blank = SireneClient::new(Some("   ".to_owned()), None);
    assert_eq!(blank.lookup(SIRET).await, SireneLookup::NotConfigured);
}
