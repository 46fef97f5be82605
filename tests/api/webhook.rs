//! The DataPass webhook over HTTP: signed sequences, replays, reordering, bad signatures,
//! malformed bodies, invalid SIRETs, and staff re-applying a failed delivery.

use chrono::{DateTime, NaiveDate};
use diesel::prelude::*;
use qf_backoffice::db::schema::{
    habilitation_requests, hubee_subscriptions, outbox, request_contacts, tokens,
    webhook_deliveries,
};
use qf_backoffice::instruction::datapass::sign;
use serde_json::{Value, json};

use crate::helpers::TestApp;

pub const SECRET: &str = "secret-partage-datapass-de-test";
/// A valid SIRET (Luhn) for a commune that is not in the demo data.
pub const SIRET: &str = "21690123000013";
const T0: i64 = 1_790_000_000; // 2026-09-21

/// The app with the webhook secret, and the éditeur whose pre-filled form the payloads use.
pub async fn spawn() -> TestApp {
    let app = TestApp::spawn_with(&[("DATAPASS_WEBHOOK_SECRET", SECRET)]).await;
    app.with_conn(|conn| {
        use qf_backoffice::db::schema::{editeur_forms, editeurs};
        let now = qf_backoffice::db::now();
        diesel::insert_into(editeurs::table)
            .values((
                editeurs::id.eq("ed-mushroom"),
                editeurs::name.eq("Mushroom Software"),
                editeurs::siret.eq("41234567800012"),
                editeurs::contact_technique_email.eq("api@mushroom-software.fr"),
                editeurs::apis.eq("quotient_familial_v2"),
                editeurs::created_at.eq(now),
                editeurs::updated_at.eq(now),
            ))
            .execute(conn)
            .unwrap();
        diesel::insert_into(editeur_forms::table)
            .values((
                editeur_forms::id.eq("form-mushroom"),
                editeur_forms::editeur_id.eq("ed-mushroom"),
                editeur_forms::form_uid.eq("api-particulier-city-family-mushroom-software"),
                editeur_forms::name.eq("Formulaire QF"),
                editeur_forms::public_url.eq("https://datapass.api.gouv.fr/demandes/api-particulier-city-family-mushroom-software/nouveau"),
                editeur_forms::created_at.eq(now),
            ))
            .execute(conn)
            .unwrap();
    })
    .await;
    app
}

/// DataPass's state after an event, as its payload says (a reopening's refusal aside).
pub fn state_after(event: &str) -> &'static str {
    match event {
        "create" | "reopen" => "draft",
        "request_changes" => "changes_requested",
        "approve" | "cancel_reopening" => "validated",
        "refuse" => "refused",
        "revoke" => "revoked",
        "archive" => "archived",
        _ => "submitted",
    }
}

/// A DataPass payload as DataPass sends it (with a few fields we do not use).
pub fn payload(event: &str, model_id: i64, fired_at: i64, siret: &str) -> Value {
    payload_in(event, state_after(event), model_id, fired_at, siret)
}

/// A payload whose `data.state` is `state`.
pub fn payload_in(event: &str, state: &str, model_id: i64, fired_at: i64, siret: &str) -> Value {
    json!({
        "event": event,
        "fired_at": fired_at,
        "model_type": "authorization_request/formulaire_qf",
        "model_id": model_id,
        "data": {
            "id": model_id,
            "public_id": "6b9e2c43-2f1c-4c39-9a0e-7f0b0b8a7c11",
            "state": state,
            "form_uid": "api-particulier-city-family-mushroom-software",
            "created_at": "2026-09-21T08:00:00Z",
            "last_submitted_at": null,
            "last_validated_at": null,
            "data": {
                "cadre_juridique_nature": "Délibération tarifaire du conseil municipal",
                "cadre_juridique_url": "https://www.saint-exemple.fr/deliberation-qf.pdf",
                "scopes": ["quotient_familial"],
                "modalities": ["formulaire_qf"],
                "contact_metier_given_name": "Paul",
                "contact_metier_family_name": "Durand",
                "contact_metier_email": "paul.durand@saint-exemple.fr",
                "contact_technique_email": "api@mushroom-software.fr",
                "delegue_protection_donnees_given_name": "Inès",
                "delegue_protection_donnees_family_name": "Morel",
                "delegue_protection_donnees_email": "dpd@saint-exemple.fr",
                "delegue_protection_donnees_job_title": "Responsable RGPD",
                "champ_inconnu": {"ignoré": true}
            },
            "organization": {
                "id": 4321,
                "name": "Commune de Saint-Exemple",
                "siret": siret,
                "insee_payload": {"etablissement": {"adresseEtablissement": {"codeCommuneEtablissement": "69123", "codePostalEtablissement": "69001"}}}
            },
            "applicant": {
                "id": 99,
                "email": "Marie.Curie@Saint-Exemple.fr",
                "given_name": "Marie",
                "family_name": "Curie",
                "phone_number": "0102030405",
                "job_title": "Directrice enfance"
            },
            "service_provider": {"id": "mushroom", "siret": "41234567800012", "type": "editor"},
            "authorizations": []
        }
    })
}

/// Posts a signed body; returns the status and JSON answer.
pub async fn deliver(app: &TestApp, body: &Value) -> (u16, Value) {
    deliver_raw(
        app,
        body.to_string().as_bytes(),
        Some(&sign(SECRET.as_bytes(), body.to_string().as_bytes())),
    )
    .await
}

pub async fn deliver_raw(app: &TestApp, body: &[u8], signature: Option<&str>) -> (u16, Value) {
    let mut request = app
        .client
        .post(format!("{}/webhooks/datapass", app.address))
        .header("Content-Type", "application/json")
        .header("X-App-Environment", "production")
        .body(body.to_vec());
    if let Some(signature) = signature {
        request = request.header("X-Hub-Signature-256", signature);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let answer = response.json().await.unwrap_or(Value::Null);
    // The validation e-mail is rendered after the event's transaction, by the mail worker.
    app.drain_mail_jobs().await;
    (status, answer)
}

pub async fn state_of(app: &TestApp, model_id: i64) -> Option<(String, bool)> {
    app.with_conn(move |conn| {
        habilitation_requests::table
            .filter(habilitation_requests::datapass_id.eq(model_id))
            .select((
                habilitation_requests::state,
                habilitation_requests::reopening,
            ))
            .first(conn)
            .optional()
            .unwrap()
    })
    .await
}

async fn tokens_of(app: &TestApp) -> Vec<(String, NaiveDate, bool)> {
    app.with_conn(|conn| {
        tokens::table
            .select((
                tokens::id,
                tokens::expires_on,
                tokens::revoked_at.is_not_null(),
            ))
            .load(conn)
            .unwrap()
    })
    .await
}

fn day(ts: i64) -> NaiveDate {
    DateTime::from_timestamp(ts, 0).unwrap().date_naive()
}

#[tokio::test]
async fn a_request_goes_from_creation_to_approval_with_a_token() {
    let app = spawn().await;
    let steps = [
        ("create", "draft"),
        ("submit", "submitted"),
        ("request_changes", "changes_requested"),
        ("submit", "submitted"),
    ];
    for (i, (event, state)) in steps.iter().enumerate() {
        let (status, answer) = deliver(&app, &payload(event, 501, T0 + i as i64 * 60, SIRET)).await;
        assert_eq!(status, 200, "{event}: {answer}");
        assert_eq!(
            state_of(&app, 501).await,
            Some(((*state).to_owned(), false)),
            "after {event}"
        );
    }
    let (status, answer) = deliver(&app, &payload("approve", 501, T0 + 600, SIRET)).await;
    assert_eq!(status, 200, "{answer}");
    let token_id = answer["token_id"].as_str().expect("token_id").to_owned();
    assert!(uuid::Uuid::parse_str(&token_id).is_ok());
    assert_eq!(state_of(&app, 501).await, Some(("validated".into(), false)));

    let tokens = tokens_of(&app).await;
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].0, token_id);
    assert_eq!(
        tokens[0].1,
        qf_backoffice::domain::token::expiry_date(day(T0 + 600)),
        "expires 18 months after approval"
    );

    // The collectivité was created from the payload, its HubEE subscription is Inactif.
    let (status_hubee, mode, admin): (String, String, Option<String>) = app
        .with_conn(|conn| {
            hubee_subscriptions::table
                .select((
                    hubee_subscriptions::status,
                    hubee_subscriptions::access_mode,
                    hubee_subscriptions::local_admin_email,
                ))
                .first(conn)
                .unwrap()
        })
        .await;
    assert_eq!(status_hubee, "INACTIF");
    assert_eq!(mode, "API", "a pre-filled éditeur form means API access");
    assert_eq!(admin.as_deref(), Some("marie.curie@saint-exemple.fr"));

    // Contacts stored lower-cased; the validation e-mail is queued to the demandeur, cc éditeur.
    let emails: Vec<String> = app
        .with_conn(|conn| {
            request_contacts::table
                .select(request_contacts::email)
                .load(conn)
                .unwrap()
        })
        .await;
    assert!(emails.contains(&"marie.curie@saint-exemple.fr".to_owned()));
    let mails: Vec<(String, String, String, String)> = app
        .with_conn(|conn| {
            outbox::table
                .select((
                    outbox::to_addresses,
                    outbox::cc_addresses,
                    outbox::subject,
                    outbox::text_body,
                ))
                .load(conn)
                .unwrap()
        })
        .await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].0, "marie.curie@saint-exemple.fr");
    assert_eq!(mails[0].1, "api@mushroom-software.fr");
    assert!(mails[0].2.contains("Habilitation validée"));
    assert!(mails[0].3.contains(&token_id));
    assert!(
        mails[0]
            .3
            .contains("vous invitant à créer un mot de passe : vous pouvez l'ignorer"),
        "no HubEE account before, and an éditeur: the HubEE e-mail may be ignored"
    );
}

#[tokio::test]
async fn a_refused_reopening_returns_to_validated_and_a_later_one_prolongs_the_token() {
    let app = spawn().await;
    let mut t = T0;
    let mut next = || {
        t += 60;
        t
    };
    for event in ["create", "submit"] {
        assert_eq!(
            deliver(&app, &payload(event, 502, next(), SIRET)).await.0,
            200
        );
    }
    let (_, answer) = deliver(&app, &payload("approve", 502, next(), SIRET)).await;
    let token_id = answer["token_id"].as_str().unwrap().to_owned();

    // Reopen, submit, refuse: back to validated, the habilitation and token stay.
    assert_eq!(
        deliver(&app, &payload("reopen", 502, next(), SIRET))
            .await
            .0,
        200
    );
    assert_eq!(state_of(&app, 502).await, Some(("draft".into(), true)));
    assert_eq!(
        deliver(&app, &payload("submit", 502, next(), SIRET))
            .await
            .0,
        200
    );
    assert_eq!(state_of(&app, 502).await, Some(("submitted".into(), true)));
    assert_eq!(
        deliver(&app, &payload_in("refuse", "validated", 502, next(), SIRET))
            .await
            .0,
        200
    );
    assert_eq!(state_of(&app, 502).await, Some(("validated".into(), false)));
    let tokens = tokens_of(&app).await;
    assert_eq!(tokens.len(), 1);
    assert!(!tokens[0].2, "token still active");

    // A second reopening approved a year later prolongs the same token.
    assert_eq!(
        deliver(&app, &payload("reopen", 502, next(), SIRET))
            .await
            .0,
        200
    );
    assert_eq!(
        deliver(&app, &payload("submit", 502, next(), SIRET))
            .await
            .0,
        200
    );
    let later = T0 + 365 * 86_400;
    let (status, answer) = deliver(&app, &payload("approve", 502, later, SIRET)).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer["token_id"], token_id,
        "a prolonged token keeps its id"
    );
    let tokens = tokens_of(&app).await;
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        tokens[0].1,
        qf_backoffice::domain::token::expiry_date(day(later))
    );

    // Revoke: the request and its token are revoked.
    assert_eq!(
        deliver(&app, &payload("revoke", 502, later + 60, SIRET))
            .await
            .0,
        200
    );
    assert_eq!(state_of(&app, 502).await, Some(("revoked".into(), false)));
    assert!(tokens_of(&app).await[0].2, "token revoked");
    // An event the rules would not allow is applied as DataPass says, never refused, and
    // recorded as a difference for staff.
    let (status, answer) = deliver(&app, &payload("approve", 502, later + 120, SIRET)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(state_of(&app, 502).await, Some(("validated".into(), false)));
    let kinds: Vec<String> = app
        .with_conn(|conn| {
            use qf_backoffice::db::schema::datapass_differences;
            datapass_differences::table
                .filter(datapass_differences::datapass_id.eq(502))
                .select(datapass_differences::kind)
                .load(conn)
                .unwrap()
        })
        .await;
    assert_eq!(kinds, ["transition"]);
}

#[tokio::test]
async fn replayed_deliveries_change_nothing_and_get_the_same_answer() {
    let app = spawn().await;
    for (i, event) in ["create", "submit"].iter().enumerate() {
        deliver(&app, &payload(event, 503, T0 + i as i64, SIRET)).await;
    }
    let approve = payload("approve", 503, T0 + 10, SIRET);
    let first = deliver(&app, &approve).await;
    let second = deliver(&app, &approve).await;
    assert_eq!(first.0, 200);
    assert_eq!(first, second);
    assert_eq!(tokens_of(&app).await.len(), 1);
    let mails: i64 = app
        .with_conn(|conn| outbox::table.count().get_result(conn).unwrap())
        .await;
    assert_eq!(mails, 1, "one validation e-mail");
    // A replayed submit after the approval changes nothing either.
    let (status, _) = deliver(&app, &payload("submit", 503, T0 + 1, SIRET)).await;
    assert_eq!(status, 200);
    assert_eq!(state_of(&app, 503).await, Some(("validated".into(), false)));
    let outcomes: Vec<String> = app
        .with_conn(|conn| {
            webhook_deliveries::table
                .order(webhook_deliveries::received_at)
                .select(webhook_deliveries::outcome)
                .load(conn)
                .unwrap()
        })
        .await;
    assert_eq!(
        outcomes,
        ["applied", "applied", "applied", "duplicate", "duplicate"]
    );
}

#[tokio::test]
async fn out_of_order_events_never_move_a_request_back() {
    let app = spawn().await;
    // submit arrives before create: the request is recorded from the payload.
    let submit = payload("submit", 504, T0 + 60, SIRET);
    let (status, answer) = deliver(&app, &submit).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(state_of(&app, 504).await, Some(("submitted".into(), false)));
    // The late create is older: ignored; a retried submit gets the same answer.
    let (status, answer) = deliver(&app, &payload("create", 504, T0, SIRET)).await;
    assert_eq!(status, 200);
    assert_eq!(answer["status"], "ignored");
    assert_eq!(deliver(&app, &submit).await.0, 200);
    assert_eq!(state_of(&app, 504).await, Some(("submitted".into(), false)));
    // request_changes at T0+300, then a late update from T0+120: ignored.
    assert_eq!(
        deliver(&app, &payload("request_changes", 504, T0 + 300, SIRET))
            .await
            .0,
        200
    );
    let mut late = payload("update", 504, T0 + 120, SIRET);
    late["data"]["data"]["cadre_juridique_url"] = json!("https://ancienne.example.fr/x.pdf");
    let (status, answer) = deliver(&app, &late).await;
    assert_eq!(status, 200);
    assert_eq!(answer["status"], "ignored");
    assert_eq!(
        state_of(&app, 504).await,
        Some(("changes_requested".into(), false))
    );
    let url: Option<String> = app
        .with_conn(|conn| {
            habilitation_requests::table
                .select(habilitation_requests::deliberation_url)
                .first(conn)
                .unwrap()
        })
        .await;
    assert_eq!(
        url.as_deref(),
        Some("https://www.saint-exemple.fr/deliberation-qf.pdf")
    );
}

#[tokio::test]
async fn bad_signatures_are_refused_before_anything_is_read() {
    let app = spawn().await;
    let body = payload("create", 505, T0, SIRET).to_string();
    let (status, answer) = deliver_raw(&app, body.as_bytes(), None).await;
    assert_eq!(status, 401);
    assert_eq!(answer["error"], "invalid_signature");
    let wrong = sign(b"un-autre-secret-tout-aussi-long", body.as_bytes());
    assert_eq!(
        deliver_raw(&app, body.as_bytes(), Some(&wrong)).await.0,
        401
    );
    // A signature of another body.
    let other = sign(SECRET.as_bytes(), b"{}");
    assert_eq!(
        deliver_raw(&app, body.as_bytes(), Some(&other)).await.0,
        401
    );
    assert_eq!(
        deliver_raw(&app, body.as_bytes(), Some("sha256=")).await.0,
        401
    );
    assert_eq!(state_of(&app, 505).await, None);
    let logged: i64 = app
        .with_conn(|conn| webhook_deliveries::table.count().get_result(conn).unwrap())
        .await;
    assert_eq!(logged, 0, "unsigned bodies are not stored");

    // Without a configured secret, every delivery is refused.
    let unconfigured = TestApp::spawn().await;
    let signed = sign(SECRET.as_bytes(), body.as_bytes());
    let (status, answer) = deliver_raw(&unconfigured, body.as_bytes(), Some(&signed)).await;
    assert_eq!(status, 401);
    assert_eq!(answer["error"], "webhook_not_configured");
}

#[tokio::test]
async fn malformed_bodies_get_400_with_a_code_and_the_setup_test_gets_200() {
    let app = spawn().await;
    let signed = |body: &str| (body.to_owned(), sign(SECRET.as_bytes(), body.as_bytes()));
    let cases = [
        ("pas du json", "invalid_json"),
        (r#"{"event":"create"}"#, "invalid_payload"),
        (
            &payload("explode", 506, T0, SIRET).to_string(),
            "unknown_event",
        ),
        (
            &{
                let mut p = payload("create", 506, T0, SIRET);
                p["model_type"] = json!("authorization_request/api_entreprise");
                p.to_string()
            },
            "unsupported_model_type",
        ),
    ];
    for (body, code) in cases {
        let (body, signature) = signed(body);
        let (status, answer) = deliver_raw(&app, body.as_bytes(), Some(&signature)).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["error"], code, "{body}");
    }
    let (body, signature) = signed(r#"{"test": true, "timestamp": "2026-11-21T10:00:00Z"}"#);
    assert_eq!(
        deliver_raw(&app, body.as_bytes(), Some(&signature)).await.0,
        200
    );
    // The api_particulier model type is accepted too.
    let mut other = payload("create", 507, T0, SIRET);
    other["model_type"] = json!("authorization_request/api_particulier");
    assert_eq!(deliver(&app, &other).await.0, 200);
}

#[tokio::test]
async fn an_invalid_siret_is_kept_as_failed_without_alarming_datapass_and_staff_can_replay_it() {
    let app = spawn().await;
    // 200 so that DataPass does not disable the webhook; nothing stored but the delivery.
    let (status, answer) = deliver(&app, &payload("create", 508, T0, "21690123000019")).await;
    assert_eq!(status, 200);
    assert_eq!(answer["status"], "failed");
    assert_eq!(answer["error"], "invalid_siret");
    assert_eq!(state_of(&app, 508).await, None);

    // Staff see the failure.
    app.with_conn(|conn| {
        qf_backoffice::models::accounts::upsert_staff(
            conn,
            "agent@beta.gouv.fr",
            qf_backoffice::domain::roles::StaffRole::Instructeur,
            "test",
            qf_backoffice::db::now(),
        )
        .unwrap()
    })
    .await;
    let staff = app.signed_in("agent@beta.gouv.fr").await;
    let (_, list) = staff.get_text("/webhooks/livraisons?statut=failed").await;
    assert!(list.contains("invalid_siret"), "{list}");

    let failed_id: String = app
        .with_conn(|conn| {
            webhook_deliveries::table
                .filter(webhook_deliveries::model_id.eq(508))
                .filter(webhook_deliveries::outcome.eq("failed"))
                .select(webhook_deliveries::id)
                .first(conn)
                .unwrap()
        })
        .await;
    let (status, page) = staff
        .get_text(&format!("/webhooks/livraisons/{failed_id}"))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("Rejouer cette livraison"));
    // Replayed, it fails again the same way (the SIRET is still invalid) and is logged anew.
    let response = staff
        .post_form(&format!("/webhooks/livraisons/{failed_id}/rejouer"), &[])
        .await;
    assert_eq!(response.status().as_u16(), 303);
    let (_, page) = staff
        .get_text(response.headers()["location"].to_str().unwrap())
        .await;
    assert!(page.contains("failed (HTTP 200)"), "{page}");
    assert_eq!(state_of(&app, 508).await, None);

    // An applied delivery cannot be replayed.
    deliver(&app, &payload("create", 509, T0, SIRET)).await;
    let applied_id: String = app
        .with_conn(|conn| {
            webhook_deliveries::table
                .filter(webhook_deliveries::outcome.eq("applied"))
                .select(webhook_deliveries::id)
                .first(conn)
                .unwrap()
        })
        .await;
    let response = staff
        .post_form(&format!("/webhooks/livraisons/{applied_id}/rejouer"), &[])
        .await;
    assert_eq!(response.status().as_u16(), 400);
}

#[tokio::test]
async fn a_broken_validation_template_fails_the_email_not_the_webhook() {
    use actix_web::{App, test as actix_test, web};
    use qf_backoffice::db::schema::{events, mail_jobs};

    // The application state with the validation e-mail's template broken (a variable that is
    // never in its context), served by the real routes.
    let db = crate::helpers::TestDb::new();
    let settings = crate::helpers::test_settings(&db, &[("DATAPASS_WEBHOOK_SECRET", SECRET)]);
    let mut state = qf_backoffice::startup::build_state(settings)
        .await
        .unwrap()
        .into_inner();
    std::sync::Arc::get_mut(&mut state)
        .expect("state not shared yet")
        .tera
        .add_raw_template("email/decision_approved/body.txt", "{{ variable_absente }}")
        .unwrap();
    let state = web::Data::from(state);
    let service = actix_test::init_service(
        App::new()
            .app_data(state.clone())
            .configure(qf_backoffice::routes::configure),
    )
    .await;
    for (i, event) in ["create", "submit", "approve"].iter().enumerate() {
        let body = payload(event, 601, T0 + 60 * i as i64, SIRET).to_string();
        let request = actix_test::TestRequest::post()
            .uri("/webhooks/datapass")
            .insert_header(("Content-Type", "application/json"))
            .insert_header((
                "X-Hub-Signature-256",
                sign(SECRET.as_bytes(), body.as_bytes()),
            ))
            .set_payload(body)
            .to_request();
        let response = actix_test::call_service(&service, request).await;
        assert_eq!(response.status().as_u16(), 200, "{event} is applied");
    }

    // The worker fails the job, visibly; the approval itself stands.
    let worker = state.clone();
    let (queued, failed, journal, mails, tokens_count) = tokio::task::spawn_blocking(move || {
        let mut conn = worker.pool.get().unwrap();
        let queued =
            qf_backoffice::mail::jobs::run_pending(&mut conn, &worker, qf_backoffice::db::now())
                .unwrap();
        let failed: Vec<(Option<String>, bool)> = mail_jobs::table
            .select((mail_jobs::last_error, mail_jobs::failed_at.is_not_null()))
            .load(&mut conn)
            .unwrap();
        let journal: i64 = events::table
            .filter(events::action.eq("email.render_failed"))
            .count()
            .get_result(&mut conn)
            .unwrap();
        let mails: i64 = outbox::table.count().get_result(&mut conn).unwrap();
        let tokens_count: i64 = tokens::table.count().get_result(&mut conn).unwrap();
        (queued, failed, journal, mails, tokens_count)
    })
    .await
    .unwrap();
    assert_eq!(queued, 0);
    assert_eq!(mails, 0, "nothing half-rendered is sent");
    assert_eq!(tokens_count, 1, "the approval is applied");
    assert_eq!(failed.len(), 1, "one failed job, kept");
    assert!(failed[0].1);
    assert!(
        failed[0]
            .0
            .as_deref()
            .is_some_and(|e| e.contains("variable_absente")),
        "{failed:?}"
    );
    assert_eq!(journal, 1, "staff see it in the journal");
}

#[tokio::test]
async fn a_burst_of_concurrent_deliveries_applies_each_event_once() {
    let app = spawn().await;
    // 20 new requests, each delivered twice at the same time: on SQLite they share batches.
    let bodies: Vec<Value> = (0..20)
        .flat_map(|i| {
            let body = payload("create", 700 + i, T0, SIRET);
            [body.clone(), body]
        })
        .collect();
    let answers =
        futures_util::future::join_all(bodies.iter().map(|body| deliver(&app, body))).await;
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "{answers:?}"
    );
    for i in 0..20 {
        assert_eq!(state_of(&app, 700 + i).await, Some(("draft".into(), false)));
    }
    let outcomes: Vec<(String, i64)> = app
        .with_conn(|conn| {
            webhook_deliveries::table
                .group_by(webhook_deliveries::outcome)
                .select((webhook_deliveries::outcome, diesel::dsl::count_star()))
                .order(webhook_deliveries::outcome)
                .load(conn)
                .unwrap()
        })
        .await;
    assert_eq!(
        outcomes,
        [("applied".to_owned(), 20), ("duplicate".to_owned(), 20)]
    );
    let contacts: i64 = app
        .with_conn(|conn| request_contacts::table.count().get_result(conn).unwrap())
        .await;
    assert_eq!(contacts, 20 * 4, "one set of contacts per request");
    // The batches indexed their contacts before committing (`search::index_deferred`).
    let found: std::collections::BTreeSet<String> = app
        .with_conn(|conn| {
            let text = qf_backoffice::search::parse("paul.durand@saint-exemple").unwrap();
            qf_backoffice::search::documents(
                conn,
                qf_backoffice::search::Kind::Contact,
                &text,
                1000,
            )
            .unwrap()
            .into_iter()
            .map(|doc| doc.target_id)
            .collect()
        })
        .await;
    assert_eq!(found.len(), 20, "every new request is found by its contact");
}

#[tokio::test]
async fn a_delivery_failing_inside_a_batch_is_rolled_back_alone() {
    use qf_backoffice::instruction::ingest::receive_batch;
    let app = spawn().await;
    // The database refuses request D999 (a trigger), as it would refuse a broken row.
    let postgres = app.db.is_postgres();
    app.with_conn(move |conn| {
        use diesel::connection::SimpleConnection;
        conn.batch_execute(if postgres {
            "CREATE FUNCTION refuse_999() RETURNS trigger AS $$ BEGIN \
               IF NEW.datapass_id = 999 THEN RAISE EXCEPTION 'refusée'; END IF; RETURN NEW; \
             END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER refuse_999 BEFORE INSERT ON habilitation_requests \
               FOR EACH ROW EXECUTE FUNCTION refuse_999();"
        } else {
            "CREATE TRIGGER refuse_999 BEFORE INSERT ON habilitation_requests \
               WHEN NEW.datapass_id = 999 BEGIN SELECT RAISE(ABORT, 'refusée'); END;"
        })
        .unwrap()
    })
    .await;
    let bodies: Vec<Vec<u8>> = vec![
        payload("create", 801, T0, SIRET).to_string().into_bytes(),
        payload("create", 999, T0, SIRET).to_string().into_bytes(),
        payload("create", 802, T0, "21690123000019")
            .to_string()
            .into_bytes(),
        b"{pas du json".to_vec(),
        payload("create", 801, T0, SIRET).to_string().into_bytes(),
        payload("submit", 801, T0 + 1, SIRET)
            .to_string()
            .into_bytes(),
    ];
    let results = app
        .with_conn(move |conn| {
            let now = qf_backoffice::db::now();
            let deliveries: Vec<(&[u8], _)> = bodies.iter().map(|b| (b.as_slice(), now)).collect();
            receive_batch(conn, &deliveries)
                .unwrap()
                .into_iter()
                .map(|r| {
                    let p = r.unwrap();
                    (
                        p.outcome.as_str(),
                        p.answer.status,
                        p.answer.error_code().map(str::to_owned),
                    )
                })
                .collect::<Vec<_>>()
        })
        .await;
    assert_eq!(
        results,
        [
            ("applied", 200, None),
            ("rejected", 500, Some("database_error".to_owned())),
            ("failed", 200, Some("invalid_siret".to_owned())),
            ("rejected", 400, Some("invalid_json".to_owned())),
            ("duplicate", 200, None),
            ("applied", 200, None),
        ]
    );
    // The request refused by the database left nothing; the others are all there.
    assert_eq!(state_of(&app, 999).await, None);
    assert_eq!(state_of(&app, 801).await, Some(("submitted".into(), false)));
    let logged: i64 = app
        .with_conn(|conn| webhook_deliveries::table.count().get_result(conn).unwrap())
        .await;
    assert_eq!(logged, 6, "every delivery of the batch is logged");
}

#[tokio::test]
async fn the_webhook_writer_prepares_each_statement_once_per_connection() {
    use diesel::connection::InstrumentationEvent;
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};
    let app = spawn().await;
    // Statements started, and texts prepared for the cache, since the last clear.
    let started = Arc::new(Mutex::new(Vec::<String>::new()));
    let cached = Arc::new(Mutex::new(HashSet::<String>::new()));
    let (seen, kept) = (started.clone(), cached.clone());
    // A connection of its own: every statement is first prepared under the instrumentation.
    let (first_run, second_run) = {
        let conn = &mut app.db.connect();
        {
            conn.set_instrumentation(move |event: InstrumentationEvent<'_>| match event {
                InstrumentationEvent::StartQuery { query, .. } => {
                    let text = query.to_string();
                    let sql = text.split(" -- binds: ").next().unwrap_or_default();
                    seen.lock().unwrap().push(sql.trim().to_owned());
                }
                InstrumentationEvent::CacheQuery { sql, .. } => {
                    kept.lock().unwrap().insert(sql.trim().to_owned());
                }
                _ => {}
            });
            let now = qf_backoffice::db::now();
            let mut life = |model_id: i64, siret: &str, public_id: &str| {
                for (i, event) in ["create", "submit", "approve"].into_iter().enumerate() {
                    let mut body = payload(event, model_id, T0 + i as i64 * 60, siret);
                    body["data"]["public_id"] = json!(public_id);
                    let processed = qf_backoffice::instruction::datapass::receive(
                        conn,
                        body.to_string().as_bytes(),
                        now,
                    )
                    .unwrap();
                    assert_eq!(processed.outcome.as_str(), "applied", "{event}");
                }
            };
            life(701, SIRET, "6b9e2c43-2f1c-4c39-9a0e-000000000701");
            let first_run = std::mem::take(&mut *started.lock().unwrap());
            let kept_by_first_run = cached.lock().unwrap().len();
            life(
                702,
                "21690124000012",
                "6b9e2c43-2f1c-4c39-9a0e-000000000702",
            );
            let second_run = std::mem::take(&mut *started.lock().unwrap());
            // Nothing was prepared for the cache during the second life.
            assert_eq!(cached.lock().unwrap().len(), kept_by_first_run);
            (first_run, second_run)
        }
    };
    let cached = cached.lock().unwrap().clone();
    let is_statement = |sql: &&String| {
        ["SELECT", "INSERT", "UPDATE", "DELETE"]
            .iter()
            .any(|verb| sql.to_uppercase().starts_with(verb))
    };
    let writes = |run: &[String]| {
        run.iter()
            .filter(is_statement)
            .filter(|sql| !sql.to_uppercase().starts_with("SELECT"))
            .count()
    };
    assert!(writes(&first_run) >= 10, "{first_run:#?}");
    assert_eq!(writes(&first_run), writes(&second_run), "same path twice");
    // The second request's life prepares nothing: every statement it runs was kept by the
    // connection's cache (diesel prepares an UPDATE, or an INSERT of a struct with optional
    // fields, again on every call unless told it may keep it).
    let prepared_again: Vec<&String> = second_run
        .iter()
        .filter(is_statement)
        .filter(|sql| !cached.contains(*sql))
        .collect();
    assert!(prepared_again.is_empty(), "{prepared_again:#?}");
}
