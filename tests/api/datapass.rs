//! DataPass as the source of truth: events about requests never seen, missed events, approvals
//! that prolong, reconciliation through the pull API against a strict local stand-in (token
//! endpoint, paged `/demandes`, refusals, time-outs), a webhook racing a reconciliation, and a
//! prolongation "with changes" sent to DataPass.

use std::time::Duration;

use chrono::NaiveDate;
use diesel::prelude::*;
use qf_backoffice::db::schema::{
    datapass_differences, datapass_mirror, habilitation_requests, outbox, token_reminders, tokens,
};
use qf_backoffice::demo::DEMO_INSTRUCTEUR;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::TestApp;
use crate::webhook::{SECRET, SIRET, deliver, payload, payload_in, state_of};

const T0: i64 = 1_790_000_000; // 2026-09-21
const CLIENT_ID: &str = "qf-backoffice-test";
const CLIENT_SECRET: &str = "secret-client-datapass-de-test";
const ACCESS_TOKEN: &str = "jeton-acces-datapass";

/// A valid SIRET (Luhn) made from a number.
fn siret_for(n: u64) -> String {
    let body = format!("2169{n:09}");
    for check in 0..10 {
        let candidate = format!("{body}{check}");
        let sum: u32 = candidate
            .chars()
            .rev()
            .enumerate()
            .map(|(i, c)| {
                let d = c.to_digit(10).unwrap();
                if i % 2 == 1 {
                    let doubled = d * 2;
                    if doubled > 9 { doubled - 9 } else { doubled }
                } else {
                    d
                }
            })
            .sum();
        if sum.is_multiple_of(10) {
            return candidate;
        }
    }
    unreachable!()
}

fn state_for(n: i64) -> &'static str {
    match n % 5 {
        0 => "validated",
        1 => "submitted",
        2 => "draft",
        3 => "changes_requested",
        _ => "refused",
    }
}

/// One demande as the pull API v1 describes it (`organisation`, `habilitations`, `events`).
pub fn demande(id: i64, state: &str, siret: &str, validated_at: &str) -> Value {
    let validated = state == "validated";
    json!({
        "id": id,
        "public_id": format!("00000000-0000-4000-8000-{id:012}"),
        "definition_id": "api_particulier",
        "state": state,
        "form_uid": "api-particulier-formulaire-qf",
        "data": {
            "cadre_juridique_nature": "Délibération tarifaire",
            "cadre_juridique_url": "https://www.example-commune.fr/deliberation.pdf",
            "scopes": ["quotient_familial"],
            "modalities": ["formulaire_qf"],
            "contact_technique_email": format!("technique{id}@example-commune.fr"),
            "delegue_protection_donnees_email": format!("dpd{id}@example-commune.fr")
        },
        "created_at": "2026-01-02T09:00:00Z",
        "last_submitted_at": if state == "draft" { Value::Null } else { json!("2026-01-05T10:00:00Z") },
        "last_validated_at": if validated { json!(validated_at) } else { Value::Null },
        "reopening": false,
        "reopened_at": null,
        "organisation": {
            "id": id + 100_000,
            "siret": siret,
            "name": format!("Commune numéro {id}"),
            "insee_payload": {"etablissement": {"adresseEtablissement": {"codeCommuneEtablissement": "2A004", "codePostalEtablissement": "20000"}}}
        },
        "applicant": {"id": id + 200_000, "email": format!("Demandeur{id}@Example-Commune.fr"), "given_name": "Camille", "family_name": "Martin"},
        "service_provider": null,
        "habilitations": if validated {
            json!([{"id": id + 300_000, "slug": format!("{id}-1"), "revoked": false, "state": "active", "created_at": validated_at, "data": {}, "definition_id": "api_particulier"}])
        } else { json!([]) },
        "events": [
            {"id": id * 10, "name": "create", "created_at": "2026-01-02T09:00:00Z"},
            {"id": id * 10 + 1, "name": if validated { "approve" } else { "submit" }, "created_at": if validated { validated_at } else { "2026-01-05T10:00:00Z" }}
        ]
    })
}

/// A stand-in of DataPass's pull API, strict as the real one: the token endpoint wants the
/// client credentials as a form, `/demandes` wants the bearer token and pages by limit/offset.
pub async fn stand_in(demandes: &[Value], page_size: usize) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/oauth/token"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains(format!("client_id={CLIENT_ID}")))
        .and(body_string_contains(format!(
            "client_secret={CLIENT_SECRET}"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 7200
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/oauth/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"})))
        .with_priority(5)
        .mount(&server)
        .await;
    let pages = demandes.len() / page_size + 1;
    for page in 0..pages {
        let slice: Vec<Value> = demandes
            .iter()
            .skip(page * page_size)
            .take(page_size)
            .cloned()
            .collect();
        Mock::given(method("GET"))
            .and(path("/api/v1/demandes"))
            .and(header(
                "authorization",
                format!("Bearer {ACCESS_TOKEN}").as_str(),
            ))
            .and(query_param("limit", page_size.to_string().as_str()))
            .and(query_param(
                "offset",
                (page * page_size).to_string().as_str(),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(Value::Array(slice)))
            .with_priority(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/api/v1/demandes"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "errors": [{"status": "401", "title": "Non autorisé", "detail": "jeton invalide"}]
        })))
        .with_priority(5)
        .mount(&server)
        .await;
    server
}

pub fn api_settings(server: &MockServer, page_size: usize) -> Vec<(&'static str, String)> {
    vec![
        ("DATAPASS_WEBHOOK_SECRET", SECRET.to_owned()),
        ("DATAPASS_API_URL", format!("{}/api/v1", server.uri())),
        ("DATAPASS_CLIENT_ID", CLIENT_ID.to_owned()),
        ("DATAPASS_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("DATAPASS_PAGE_SIZE", page_size.to_string()),
        ("DATAPASS_TIMEOUT", "2".to_owned()),
    ]
}

async fn spawn_with(vars: &[(&'static str, String)]) -> TestApp {
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestApp::spawn_with(&pairs).await
}

async fn sync(app: &TestApp) -> qf_backoffice::instruction::sync::SyncReport {
    let client = app.state.datapass.clone().expect("DataPass configured");
    qf_backoffice::instruction::sync::run(&app.state, &client)
        .await
        .expect("sync runs")
}

/// Rows in a table.
macro_rules! count {
    ($app:expr, $table:ident) => {
        $app.with_conn(|conn| $table::table.count().get_result::<i64>(conn).unwrap())
            .await
    };
}

async fn staff(app: &TestApp) -> crate::helpers::Visitor {
    app.with_conn(|conn| {
        qf_backoffice::models::accounts::upsert_staff(
            conn,
            DEMO_INSTRUCTEUR,
            qf_backoffice::domain::roles::StaffRole::Instructeur,
            "test",
            qf_backoffice::db::now(),
        )
        .unwrap()
    })
    .await;
    app.signed_in(DEMO_INSTRUCTEUR).await
}

async fn differences_of(app: &TestApp, datapass_id: i64) -> Vec<(String, String)> {
    app.with_conn(move |conn| {
        datapass_differences::table
            .filter(datapass_differences::datapass_id.eq(datapass_id))
            .order(datapass_differences::detected_at)
            .select((datapass_differences::kind, datapass_differences::source))
            .load(conn)
            .unwrap()
    })
    .await
}

#[tokio::test]
async fn a_submit_for_a_request_never_seen_is_recorded_and_queued() {
    let app = spawn_with(&[("DATAPASS_WEBHOOK_SECRET", SECRET.to_owned())]).await;
    let (status, answer) = deliver(&app, &payload("submit", 701, T0, SIRET)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(state_of(&app, 701).await, Some(("submitted".into(), false)));
    assert_eq!(
        differences_of(&app, 701).await,
        [("missing".to_owned(), "webhook".to_owned())]
    );

    let staff = staff(&app).await;
    let (_, queue) = staff.get_text("/instruction").await;
    let id: String = app
        .with_conn(|conn| {
            habilitation_requests::table
                .filter(habilitation_requests::datapass_id.eq(701))
                .select(habilitation_requests::id)
                .first(conn)
                .unwrap()
        })
        .await;
    assert!(queue.contains(&format!("data-request=\"{id}\"")), "{queue}");
    // The request page shows DataPass's state and the last event; the differences page too.
    let (_, page) = staff.get_text(&format!("/demandes/{id}")).await;
    assert!(
        page.contains("data-testid=\"datapass-state\">Soumise<"),
        "{page}"
    );
    assert!(page.contains("submit le"));
    let (status, list) = staff.get_text("/datapass/ecarts?q=D701").await;
    assert_eq!(status, 200);
    assert!(list.contains("data-difference=\"missing\""), "{list}");
    assert!(list.contains("Demande inconnue du back-office"));
}

#[tokio::test]
async fn an_approve_after_a_missed_submit_answers_a_token_and_a_later_approval_prolongs_it() {
    let app = spawn_with(&[("DATAPASS_WEBHOOK_SECRET", SECRET.to_owned())]).await;
    assert_eq!(
        deliver(&app, &payload("create", 702, T0, SIRET)).await.0,
        200
    );
    let (status, answer) = deliver(&app, &payload("approve", 702, T0 + 60, SIRET)).await;
    assert_eq!(status, 200, "{answer}");
    let token_id = answer["token_id"].as_str().expect("token_id").to_owned();
    assert_eq!(state_of(&app, 702).await, Some(("validated".into(), false)));
    assert_eq!(
        differences_of(&app, 702).await,
        [("transition".to_owned(), "webhook".to_owned())],
        "approve from draft is logged, not refused"
    );

    // DataPass approves a modification of the request a year later: the same token, prolonged.
    let later = T0 + 365 * 86_400;
    let (status, answer) = deliver(&app, &payload("approve", 702, later, SIRET)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["token_id"], token_id.as_str());
    let rows: Vec<(String, NaiveDate)> = app
        .with_conn(|conn| {
            tokens::table
                .select((tokens::id, tokens::expires_on))
                .load(conn)
                .unwrap()
        })
        .await;
    let day = chrono::DateTime::from_timestamp(later, 0)
        .unwrap()
        .date_naive();
    assert_eq!(
        rows,
        [(token_id, qf_backoffice::domain::token::expiry_date(day))]
    );
}

#[tokio::test]
async fn an_event_about_an_unknown_validated_request_records_it_with_a_token() {
    let app = spawn_with(&[("DATAPASS_WEBHOOK_SECRET", SECRET.to_owned())]).await;
    // An update of a request validated before the back office existed.
    let (status, answer) = deliver(&app, &payload_in("update", "validated", 703, T0, SIRET)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(state_of(&app, 703).await, Some(("validated".into(), false)));
    assert_eq!(count!(app, tokens), 1);
    // Seen again: nothing more.
    deliver(
        &app,
        &payload_in("update", "validated", 703, T0 + 60, SIRET),
    )
    .await;
    assert_eq!(count!(app, tokens), 1);
}

#[tokio::test]
async fn reconciliation_creates_what_is_missing_over_pages_and_a_second_run_changes_nothing() {
    let demandes: Vec<Value> = (0..2500_i64)
        .map(|i| {
            demande(
                10_000 + i,
                state_for(i),
                &siret_for(i as u64),
                "2026-01-15T11:00:00Z",
            )
        })
        .collect();
    let server = stand_in(&demandes, 1000).await;
    let app = spawn_with(&api_settings(&server, 1000)).await;

    let first = sync(&app).await;
    assert_eq!(first.read, 2500);
    assert_eq!(first.created, 2500, "{first:?}");
    assert_eq!(first.tokens, 500);
    assert!(first.failed.is_empty(), "{:?}", first.failed);
    assert_eq!(count!(app, habilitation_requests), 2500);
    assert_eq!(count!(app, tokens), 500);
    // Old approvals are not e-mailed again.
    assert_eq!(count!(app, outbox), 0);
    for i in [0_i64, 1, 2, 3, 4, 2499] {
        let (state, _) = state_of(&app, 10_000 + i).await.unwrap();
        assert_eq!(state, state_for(i), "D{}", 10_000 + i);
    }
    // 3 pages were read: 1000 + 1000 + 500.
    let pages = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/api/v1/demandes")
        .count();
    assert_eq!(pages, 3);
    // The synchronisation date is shown to staff; the COG's département is Corsica's.
    let departement: Option<String> = app
        .with_conn(|conn| {
            use qf_backoffice::db::schema::collectivites;
            collectivites::table
                .select(collectivites::departement)
                .first(conn)
                .unwrap()
        })
        .await;
    assert_eq!(departement.as_deref(), Some("2A"));
    let synced: i64 = app
        .with_conn(|conn| {
            datapass_mirror::table
                .filter(datapass_mirror::last_synced_at.is_not_null())
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await;
    assert_eq!(synced, 2500);

    // Habilitations carry DataPass's id and slug.
    let habilitation: (Option<i64>, Option<String>) = app
        .with_conn(|conn| {
            use qf_backoffice::db::schema::habilitations;
            habilitations::table
                .inner_join(habilitation_requests::table)
                .filter(habilitation_requests::datapass_id.eq(10_000))
                .select((
                    habilitations::datapass_authorization_id,
                    habilitations::slug,
                ))
                .first(conn)
                .unwrap()
        })
        .await;
    assert_eq!(habilitation, (Some(310_000), Some("10000-1".to_owned())));

    let second = sync(&app).await;
    assert_eq!(
        (
            second.created,
            second.updated,
            second.unchanged,
            second.tokens,
            second.differences
        ),
        (0, 0, 2500, 0, 0),
        "{second:?}"
    );
    assert_eq!(count!(app, tokens), 500);

    // A DataPass event about a synced request is then applied.
    let siret = siret_for(1);
    let (status, answer) = deliver(&app, &payload("approve", 10_001, 1_800_000_000, &siret)).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["token_id"].is_string());
    assert_eq!(
        state_of(&app, 10_001).await,
        Some(("validated".into(), false))
    );
    assert_eq!(count!(app, tokens), 501);

    // Staff see the runs.
    let staff = staff(&app).await;
    let (_, page) = staff.get_text("/datapass/ecarts").await;
    assert!(page.contains("data-testid=\"sync-runs\""));
}

#[tokio::test]
async fn reconciliation_aligns_a_diverging_state_and_says_so() {
    let server = stand_in(
        &[demande(20_001, "refused", SIRET, "2026-01-15T11:00:00Z")],
        500,
    )
    .await;
    let app = spawn_with(&api_settings(&server, 500)).await;
    // The back office saw the submit, then missed the refusal.
    let mut submit = payload("submit", 20_001, 1_767_000_000, SIRET);
    submit["data"]["state"] = json!("submitted");
    assert_eq!(deliver(&app, &submit).await.0, 200);
    let report = sync(&app).await;
    assert_eq!((report.updated, report.differences), (1, 1), "{report:?}");
    assert_eq!(
        state_of(&app, 20_001).await,
        Some(("refused".into(), false))
    );
    assert!(
        differences_of(&app, 20_001)
            .await
            .contains(&("state".to_owned(), "sync".to_owned()))
    );
}

/// Runs the binary's `datapass-sync` on the app's database; returns (code, stdout, stderr).
async fn run_cli(app: &TestApp, vars: Vec<(&'static str, String)>) -> (i32, String, String) {
    let url = app.db.url.clone();
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_qf-backoffice"))
            .current_dir(dir.path())
            .env("DATABASE_URL", url)
            .env("DSFR_DOWNLOAD", "0")
            .env("RUST_LOG", "warn")
            .env("MAIL_OUTBOX_DIR", dir.path().join("outbox"))
            .envs(vars)
            .arg("datapass-sync")
            .output()
            .unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_command_prints_a_summary_and_fails_in_one_line_when_datapass_refuses_the_client() {
    let server = stand_in(
        &[demande(30_001, "validated", SIRET, "2026-01-15T11:00:00Z")],
        500,
    )
    .await;
    let app = spawn_with(&api_settings(&server, 500)).await;

    let (code, out, err) = run_cli(&app, api_settings(&server, 500)).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 demande(s) lue(s), 1 créée(s)"), "{out}");

    // A wrong secret: the token endpoint answers 401, the command says so in one line.
    let mut wrong = api_settings(&server, 500);
    wrong.retain(|(k, _)| *k != "DATAPASS_CLIENT_SECRET");
    wrong.push(("DATAPASS_CLIENT_SECRET", "pas-le-bon-secret-du-tout".into()));
    let (code, out, err) = run_cli(&app, wrong).await;
    assert_ne!(code, 0);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("refuse le client"), "{err}");
    assert!(!err.contains("pas-le-bon-secret") && !out.contains("pas-le-bon-secret"));

    // Without credentials: says what is missing, non-zero.
    let mut none = api_settings(&server, 500);
    none.retain(|(k, _)| !k.starts_with("DATAPASS_CLIENT"));
    let (code, _, err) = run_cli(&app, none).await;
    assert_ne!(code, 0);
    assert!(err.contains("DATAPASS_CLIENT_ID"), "{err}");
}

#[tokio::test]
async fn an_api_that_times_out_fails_cleanly_with_nothing_half_written() {
    let demandes: Vec<Value> = (0..20_i64)
        .map(|i| {
            demande(
                40_000 + i,
                "validated",
                &siret_for(500 + i as u64),
                "2026-01-15T11:00:00Z",
            )
        })
        .collect();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 7200
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/demandes"))
        .and(query_param("offset", "0"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(Value::Array(demandes[..10].to_vec())),
        )
        .mount(&server)
        .await;
    // The second page never comes in time.
    Mock::given(method("GET"))
        .and(path("/api/v1/demandes"))
        .and(query_param("offset", "10"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(Value::Array(demandes[10..].to_vec()))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    let mut vars = api_settings(&server, 10);
    vars.retain(|(k, _)| *k != "DATAPASS_TIMEOUT");
    vars.push(("DATAPASS_TIMEOUT", "1".into()));
    let app = spawn_with(&vars).await;
    let (code, _, err) = run_cli(&app, vars).await;
    assert_ne!(code, 0);
    assert!(err.contains("injoignable"), "{err}");
    assert_eq!(
        err.lines().filter(|l| !l.trim().is_empty()).count(),
        1,
        "{err}"
    );
    assert_eq!(count!(app, habilitation_requests), 0);
    assert_eq!(count!(app, tokens), 0);
}

#[tokio::test]
async fn a_webhook_racing_a_reconciliation_gives_one_request_and_one_token() {
    // Approved an hour ago: recent enough to be e-mailed, by whichever path gets there first.
    let fired = chrono::Utc::now().timestamp() - 3600;
    let at = chrono::DateTime::from_timestamp(fired, 0)
        .unwrap()
        .to_rfc3339();
    let ids = [50_001_i64, 50_002, 50_003];
    let demandes: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| demande(*id, "validated", &siret_for(900 + i as u64), &at))
        .collect();
    let server = stand_in(&demandes, 500).await;
    let app = spawn_with(&api_settings(&server, 500)).await;
    // The webhook carries the same demande as the API (DataPass's own data).
    let deliveries = ids.iter().zip(&demandes).map(|(id, demande)| {
        let body = json!({
            "event": "approve",
            "fired_at": fired,
            "model_type": "authorization_request/api_particulier",
            "model_id": id,
            "data": demande,
        });
        let app = &app;
        async move { deliver(app, &body).await }
    });
    let (report, answers) = tokio::join!(sync(&app), futures_util::future::join_all(deliveries));
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(count!(app, habilitation_requests), 3);
    assert_eq!(count!(app, tokens), 3, "one token per request");
    for (id, (status, answer)) in ids.iter().zip(answers) {
        assert_eq!(status, 200, "D{id}: {answer}");
        let id = *id;
        let token: String = app
            .with_conn(move |conn| {
                use qf_backoffice::db::schema::habilitations;
                tokens::table
                    .inner_join(habilitations::table.inner_join(habilitation_requests::table))
                    .filter(habilitation_requests::datapass_id.eq(id))
                    .select(tokens::id)
                    .first(conn)
                    .unwrap()
            })
            .await;
        assert_eq!(answer["token_id"], token.as_str(), "D{id}");
    }
    // One validation e-mail per request, whoever got there first.
    assert_eq!(count!(app, outbox), 3);
    // And a second reconciliation finds nothing to do.
    let again = sync(&app).await;
    assert_eq!(
        (again.created, again.updated, again.tokens),
        (0, 0, 0),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_prolongation_with_changes_sends_the_demandeur_to_datapass_and_its_approval_prolongs() {
    let app = spawn_with(&[("DATAPASS_WEBHOOK_SECRET", SECRET.to_owned())]).await;
    app.load_demo().await;
    // Request 002 (D12014, Montreuil): 25 days left, from DataPass.
    let token = "0d3e0000-0000-4000-8000-000000000002";
    let (siret, demandeur, expires_before): (String, String, NaiveDate) = app
        .with_conn(move |conn| {
            use qf_backoffice::db::schema::{collectivites, request_contacts};
            let siret = habilitation_requests::table
                .inner_join(collectivites::table)
                .filter(habilitation_requests::id.eq("demo-request-002"))
                .select(collectivites::siret)
                .first(conn)
                .unwrap();
            let demandeur = request_contacts::table
                .filter(request_contacts::request_id.eq("demo-request-002"))
                .filter(request_contacts::role.eq("demandeur"))
                .select(request_contacts::email)
                .first(conn)
                .unwrap();
            let expires = tokens::table
                .find(token)
                .select(tokens::expires_on)
                .first(conn)
                .unwrap();
            (siret, demandeur, expires)
        })
        .await;
    let user = app.signed_in(&demandeur).await;
    let response = user
        .post_form(
            &format!("/jetons/{token}/prolongation"),
            &[
                ("collectivite", "oui"),
                ("finalite", "oui"),
                ("contacts", "non"),
                ("changements", ""),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let (_, page) = user.get_text(&location).await;
    assert!(page.contains("data-testid=\"go-to-datapass\""), "{page}");
    assert!(
        page.replace("&#x2F;", "/")
            .contains("https://datapass.api.gouv.fr/demandes/12014"),
        "{page}"
    );
    // Nothing changed locally: no local reopening, the token as it was; the e-mail sent once.
    assert_eq!(
        state_of(&app, 12_014).await,
        Some(("validated".into(), false))
    );
    let second = user
        .post_form(
            &format!("/jetons/{token}/prolongation"),
            &[
                ("collectivite", "oui"),
                ("finalite", "oui"),
                ("contacts", "non"),
            ],
        )
        .await;
    assert_eq!(second.status().as_u16(), 303);
    let mails: Vec<(String, String)> = app
        .with_conn(|conn| {
            outbox::table
                .filter(outbox::template.eq("prolongation_datapass"))
                .select((outbox::to_addresses, outbox::text_body))
                .load(conn)
                .unwrap()
        })
        .await;
    assert_eq!(mails.len(), 1, "one confirmation");
    assert_eq!(mails[0].0, demandeur);
    assert!(
        mails[0]
            .1
            .contains("https://datapass.api.gouv.fr/demandes/12014")
    );
    assert!(mails[0].1.contains("Mettre à jour"));
    // Staff see that a modification is expected.
    let staff = staff(&app).await;
    let (_, page) = staff.get_text("/demandes/demo-request-002").await;
    assert!(
        page.contains("data-testid=\"modification-expected\""),
        "{page}"
    );

    // DataPass reopens the request: reminders pause for the token.
    let now = qf_backoffice::db::now();
    let fired = now.and_utc().timestamp();
    let (status, _) = deliver(&app, &payload("reopen", 12_014, fired, &siret)).await;
    assert_eq!(status, 200);
    assert_eq!(state_of(&app, 12_014).await, Some(("draft".into(), true)));
    let state = app.state.clone();
    let report = app
        .with_conn(move |conn| qf_backoffice::jobs::reminders::sweep(conn, &state, now).unwrap())
        .await;
    assert!(
        report.sent.iter().all(|s| s.token_id != token),
        "no reminder during the reopening"
    );
    let reminders: i64 = app
        .with_conn(move |conn| {
            token_reminders::table
                .filter(token_reminders::token_id.eq(token))
                .filter(token_reminders::claimed_at.ge(now))
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await;
    assert_eq!(reminders, 0);

    // DataPass approves the modification: the same token, prolonged; no longer "expected".
    deliver(&app, &payload("submit", 12_014, fired + 60, &siret)).await;
    let (status, answer) = deliver(&app, &payload("approve", 12_014, fired + 120, &siret)).await;
    assert_eq!(status, 200);
    assert_eq!(answer["token_id"], token);
    let expires_after: NaiveDate = app
        .with_conn(move |conn| {
            tokens::table
                .find(token)
                .select(tokens::expires_on)
                .first(conn)
                .unwrap()
        })
        .await;
    assert!(expires_after > expires_before);
    assert_eq!(
        expires_after,
        // The day of the validation in Paris, as the back office counts days.
        qf_backoffice::domain::token::expiry_date(qf_backoffice::domain::calendar::paris_date(
            chrono::DateTime::from_timestamp(fired + 120, 0)
                .unwrap()
                .naive_utc()
        ))
    );
    let expected: Option<chrono::NaiveDateTime> = app
        .with_conn(|conn| {
            datapass_mirror::table
                .find("demo-request-002")
                .select(datapass_mirror::modification_expected_at)
                .first(conn)
                .unwrap()
        })
        .await;
    assert_eq!(expected, None);
}

#[tokio::test]
async fn the_webhook_retry_of_an_approval_the_reconciliation_applied_answers_the_token_once() {
    // Approved yesterday at 10:00:00.734 on DataPass; the webhook's fired_at is 10:00:00.
    let validated = (chrono::Utc::now() - chrono::Duration::days(1))
        .date_naive()
        .and_hms_milli_opt(10, 0, 0, 734)
        .unwrap()
        .and_utc();
    let validated_text = validated.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let demande = demande(60_001, "validated", SIRET, &validated_text);
    let server = stand_in(std::slice::from_ref(&demande), 500).await;
    let app = spawn_with(&api_settings(&server, 500)).await;
    let report = sync(&app).await;
    assert_eq!((report.created, report.tokens), (1, 1), "{report:?}");
    assert_eq!(count!(app, outbox), 1, "a recent approval is e-mailed once");
    let token: String = app
        .with_conn(|conn| tokens::table.select(tokens::id).first(conn).unwrap())
        .await;

    let body = |fired_at: i64| {
        json!({
            "event": "approve",
            "fired_at": fired_at,
            "model_type": "authorization_request/api_particulier",
            "model_id": 60_001,
            "data": demande.clone(),
        })
    };
    let fired = validated.timestamp();
    // The delivery DataPass retries, then one that says an older second: both get the token.
    for fired_at in [fired, fired - 1] {
        let (status, answer) = deliver(&app, &body(fired_at)).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["token_id"], token.as_str(), "{answer}");
    }
    assert_eq!(count!(app, tokens), 1);
    assert_eq!(count!(app, outbox), 1, "no second validation e-mail");
}
