//! Making a collectivité's form live, against strict stand-ins of HubEE and the formulaire QF
//! (see `standins`): a signed DataPass approval leads, without anyone acting, to the HubEE
//! organization, the `Inactif` subscription and the collectivité active in the form; found vs
//! created organizations, "already exists" on both sides, paged lists, a refusal shown to
//! staff, a restart while calls are pending; and each variant of the approval e-mail, compared
//! with its snapshot (`tests/snapshots/decision_approved/*.txt`; `UPDATE_SNAPSHOTS=1`
//! rewrites them).

use std::time::{Duration, Instant};

use diesel::prelude::*;
use qf_backoffice::db::schema::{
    collectivites, form_activations, hubee_provisioning, hubee_subscriptions, outbox,
};
use qf_backoffice::demo::DEMO_INSTRUCTEUR;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb};
use crate::standins::{FormStandIn, HubeeStandIn};
use crate::webhook::{SECRET, SIRET, deliver, payload};

const COG: &str = "69123";
const DEMANDEUR: &str = "marie.curie@saint-exemple.fr";

fn env_of<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn all_env(hubee: Option<&HubeeStandIn>, form: &FormStandIn) -> Vec<(&'static str, String)> {
    let mut vars = vec![("DATAPASS_WEBHOOK_SECRET", SECRET.to_owned())];
    if let Some(hubee) = hubee {
        vars.extend(hubee.env());
    }
    vars.extend(form.env());
    vars
}

async fn spawn(vars: &[(&'static str, String)]) -> TestApp {
    let app = TestApp::spawn_with(&env_of(vars)).await;
    app.load_demo().await;
    app
}

/// Creates, submits and approves request `model_id` through signed webhooks.
async fn approve(app: &TestApp, model_id: i64, body: impl Fn(&str, i64) -> Value) {
    for (i, event) in ["create", "submit", "approve"].iter().enumerate() {
        let (status, answer) = deliver(app, &body(event, 1_790_000_000 + i as i64)).await;
        assert_eq!(status, 200, "{event} D{model_id}: {answer}");
    }
}

async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "waited too long for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn collectivite_id(app: &TestApp) -> String {
    app.with_conn(|conn| {
        collectivites::table
            .filter(collectivites::siret.eq(SIRET))
            .select(collectivites::id)
            .first(conn)
            .unwrap()
    })
    .await
}

/// (state, attempts, last error, live) of the form activation.
async fn activation(
    app: &TestApp,
    id: &str,
) -> Option<(String, i32, Option<String>, Option<bool>)> {
    let id = id.to_owned();
    app.with_conn(move |conn| {
        form_activations::table
            .find(&id)
            .select((
                form_activations::state,
                form_activations::attempts,
                form_activations::last_error,
                form_activations::live,
            ))
            .first(conn)
            .optional()
            .unwrap()
    })
    .await
}

/// (hubee id, organization step, provisioning state, attempts, had a HubEE account).
async fn hubee_row(app: &TestApp) -> (Option<String>, Option<String>, String, i32, bool) {
    app.with_conn(|conn| {
        hubee_subscriptions::table
            .inner_join(hubee_provisioning::table)
            .inner_join(collectivites::table)
            .filter(collectivites::siret.eq(SIRET))
            .select((
                hubee_subscriptions::hubee_id,
                hubee_provisioning::organization,
                hubee_provisioning::state,
                hubee_provisioning::attempts,
                collectivites::had_hubee_account,
            ))
            .first(conn)
            .unwrap()
    })
    .await
}

/// The approval e-mails queued for the demandeur: (cc, subject, text).
async fn approval_mails(app: &TestApp) -> Vec<(String, String, String)> {
    app.with_conn(|conn| {
        outbox::table
            .filter(outbox::template.eq("decision_approved"))
            .filter(outbox::to_addresses.eq(DEMANDEUR))
            .select((outbox::cc_addresses, outbox::subject, outbox::text_body))
            .load(conn)
            .unwrap()
    })
    .await
}

#[tokio::test]
async fn a_signed_approval_makes_the_form_live_without_anyone_acting() {
    let hubee = HubeeStandIn::start(3).await;
    let form = FormStandIn::start(3).await;
    let vars = all_env(Some(&hubee), &form);
    let app = spawn(&vars).await;
    assert_eq!(
        form.lookup(COG).await,
        503,
        "the stand-in starts with an outage"
    );
    assert_eq!(form.lookup(COG).await, 503);
    assert_eq!(form.lookup(COG).await, 503);
    assert_eq!(
        form.lookup(COG).await,
        404,
        "not active before the approval"
    );

    approve(&app, 501, |event, at| payload(event, 501, at, SIRET)).await;
    // Nobody acts: the workers do it all.
    eventually("the form to answer for the collectivité", async || {
        (form.lookup(COG).await == 200).then_some(())
    })
    .await;
    let subscription = eventually("the subscription in HubEE", async || {
        hubee.with(|h| h.subscriptions.first().cloned())
    })
    .await;
    assert_eq!(subscription["status"], "Inactif");
    assert_eq!(subscription["datapassId"], 501);
    assert_eq!(subscription["processCode"], "FormulaireQF");
    assert_eq!(
        subscription["subscriber"],
        json!({"type": "SI", "companyRegister": SIRET, "branchCode": COG})
    );
    assert_eq!(
        subscription["localAdministrator"],
        json!({"email": DEMANDEUR, "firstName": "Marie", "lastName": "Curie"})
    );
    assert_eq!(subscription["email"], DEMANDEUR);
    let organization = hubee.with(|h| h.organizations.get(&format!("SI-{SIRET}-{COG}")).cloned());
    let organization = organization.expect("the organization was created");
    assert_eq!(organization["email"], DEMANDEUR);
    assert_eq!(organization["postalCode"], "69001");
    assert_eq!(organization["name"], "Commune de Saint-Exemple");
    // The organization came first: looked up (404), created, then the subscription.
    let calls = hubee.with(|h| h.calls.clone());
    let position = |method: &str, path: &str| {
        calls
            .iter()
            .position(|(m, p)| m == method && p == path)
            .unwrap_or_else(|| panic!("{method} {path} in {calls:?}"))
    };
    let org_get = position(
        "GET",
        &format!("/referential/v1/organizations/SI-{SIRET}-{COG}"),
    );
    let org_post = position("POST", "/referential/v1/organizations");
    let sub_post = position("POST", "/referential/v1/subscriptions");
    assert!(org_get < org_post && org_post < sub_post, "{calls:?}");
    // The form got the real département and the éditeur's DataPass id.
    let posts = form.with(|f| f.posts.clone());
    assert_eq!(
        posts.last(),
        Some(&json!({
            "siret": SIRET, "code_cog": COG, "departement": "69",
            "name": "Commune de Saint-Exemple", "status": "active", "editor": "mushroom"
        }))
    );

    let id = collectivite_id(&app).await;
    let row = eventually("the provisioning recorded", async || {
        let row = hubee_row(&app).await;
        (row.2 == "done").then_some(row)
    })
    .await;
    assert_eq!(row.0.as_deref(), Some("hubee-sub-1"));
    assert_eq!(row.1.as_deref(), Some("created"));
    assert!(!row.4, "a created organization: no HubEE account before");
    let activation = eventually("the activation recorded", async || {
        activation(&app, &id).await.filter(|a| a.3 == Some(true))
    })
    .await;
    assert_eq!(activation.0, "done");

    // One approval e-mail, sent once HubEE answered: the éditeur variant, with the HubEE
    // password e-mail the collectivité may ignore.
    let mails = approval_mails(&app).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let (cc, subject, text) = &mails[0];
    assert_eq!(cc, "api@mushroom-software.fr");
    assert!(subject.contains("ce qu'il reste à faire"), "{subject}");
    assert!(text.contains(&format!("{}/collectivites/{SIRET}", form.server.uri())));
    assert!(text.contains(&format!("/collectivites/{SIRET}/kit")));
    assert!(text.contains("vous pouvez l'ignorer"), "{text}");
    assert!(text.contains("Pour l'éditeur Mushroom Software"), "{text}");

    // Staff, the demandeur and the éditeur see the form online.
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let (_, page) = staff.get_text(&format!("/collectivites/{id}")).await;
    assert!(page.contains("data-form-state=\"online\""), "{page}");
    assert!(page.contains("vérifié le"));
    let (_, kit) = staff.get_text(&format!("/collectivites/{SIRET}/kit")).await;
    assert!(kit.contains("data-form-state=\"online\""));
    assert!(!kit.contains("data-testid=\"form-not-live\""));
    let request_id: String = app
        .with_conn(|conn| {
            qf_backoffice::db::schema::habilitation_requests::table
                .filter(qf_backoffice::db::schema::habilitation_requests::datapass_id.eq(501))
                .select(qf_backoffice::db::schema::habilitation_requests::id)
                .first(conn)
                .unwrap()
        })
        .await;
    for who in [DEMANDEUR, "api@mushroom-software.fr"] {
        let visitor = app.signed_in(who).await;
        let (status, page) = visitor.get_text(&format!("/demandes/{request_id}")).await;
        assert_eq!(status, 200, "{who}");
        assert!(page.contains("data-form-state=\"online\""), "{who}: {page}");
        // And on their dashboard, on the request's row.
        let (_, home) = visitor.get_text("/").await;
        let row = home
            .split(&format!("data-request=\"{request_id}\""))
            .nth(1)
            .and_then(|rest| rest.split("</tr>").next())
            .unwrap_or_else(|| panic!("{who} sees the request on the dashboard: {home}"));
        assert!(row.contains("data-form-state=\"online\""), "{who}: {row}");
    }
}

/// The request payload for a collectivité without éditeur (a generic DataPass form).
fn payload_without_editeur(event: &str, model_id: i64, at: i64) -> Value {
    let mut body = payload(event, model_id, at, SIRET);
    body["data"]["form_uid"] = json!("api-particulier-formulaire-qf-generique");
    body["data"]["service_provider"] = Value::Null;
    body["data"]["data"]
        .as_object_mut()
        .unwrap()
        .remove("contact_technique_email");
    body
}

#[tokio::test]
async fn an_existing_organization_and_subscription_are_adopted_and_the_form_409_is_success() {
    let hubee = HubeeStandIn::start(0).await;
    let form = FormStandIn::start(0).await;
    let organization = format!("SI-{SIRET}-{COG}");
    hubee.with(|h| {
        h.organizations.insert(
            organization.clone(),
            json!({"id": organization, "type": "SI"}),
        );
        // One per page: the one to adopt is on the second page.
        h.page_size = 1;
        for (id, cog, status) in [("ancien", "69999", "Actif"), ("existant", COG, "Inactif")] {
            h.subscriptions.push(json!({
                "id": id, "processCode": "FormulaireQF", "status": status, "datapassId": 12,
                "subscriber": {"type": "SI", "companyRegister": SIRET, "branchCode": cog}
            }));
        }
    });
    form.with(|f| {
        f.collectivites.insert(
            SIRET.to_owned(),
            json!({"name": "Saint-Exemple", "siret": SIRET, "code_cog": COG}),
        );
    });
    let vars = all_env(Some(&hubee), &form);
    let app = spawn(&vars).await;
    approve(&app, 502, |event, at| {
        payload_without_editeur(event, 502, at)
    })
    .await;

    let row = eventually("the adoption", async || {
        let row = hubee_row(&app).await;
        (row.2 == "done").then_some(row)
    })
    .await;
    assert_eq!(row.0.as_deref(), Some("existant"), "adopted from page 2");
    assert_eq!(row.1.as_deref(), Some("found"));
    assert!(
        row.4,
        "an existing organization: the collectivité had a HubEE account"
    );
    let calls = hubee.with(|h| h.calls.clone());
    assert!(
        !calls
            .iter()
            .any(|(m, p)| m == "POST" && p == "/referential/v1/organizations"),
        "an existing organization is not created again: {calls:?}"
    );
    assert!(
        calls
            .iter()
            .any(|(m, p)| m == "GET" && p.contains("page=1")),
        "every page is read: {calls:?}"
    );
    assert_eq!(
        hubee.with(|h| h.subscriptions.len()),
        2,
        "nothing duplicated"
    );

    let id = collectivite_id(&app).await;
    let activation = eventually("the activation", async || {
        activation(&app, &id).await.filter(|a| a.0 == "done")
    })
    .await;
    assert_eq!(activation.3, Some(true));
    let posts = form.with(|f| f.posts.clone());
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["editor"], Value::Null);
    assert_eq!(form.with(|f| f.collectivites.len()), 1);

    // The administrator activates it on the portal, in API mode delegated to an éditeur: the
    // sync, which reads every page, follows.
    hubee.with(|h| {
        let adopted = h
            .subscriptions
            .iter_mut()
            .find(|s| s["id"] == "existant")
            .unwrap();
        adopted["status"] = json!("Actif");
        adopted["accessMode"] = json!("API");
        adopted["activateDateTime"] = json!("2026-12-01T00:00:00Z");
        adopted["delegationActor"] = json!({"type": "EDT", "companyRegister": "41234567800012"});
    });
    let client = app.state.hubee.clone().unwrap();
    let report = qf_backoffice::hubee::sync(&app.state.pool, &client)
        .await
        .unwrap();
    assert_eq!(report.read, 2, "both pages read");
    let local: (String, String, Option<chrono::NaiveDate>, Option<String>) = app
        .with_conn(|conn| {
            hubee_subscriptions::table
                .filter(hubee_subscriptions::hubee_id.eq("existant"))
                .select((
                    hubee_subscriptions::status,
                    hubee_subscriptions::access_mode,
                    hubee_subscriptions::activation_date,
                    hubee_subscriptions::delegation_editeur_siret,
                ))
                .first(conn)
                .unwrap()
        })
        .await;
    assert_eq!(local.0, "ACTIF");
    assert_eq!(local.1, "API");
    assert_eq!(local.2, chrono::NaiveDate::from_ymd_opt(2026, 12, 1));
    assert_eq!(local.3.as_deref(), Some("41234567800012"));

    let mails = approval_mails(&app).await;
    assert_eq!(mails.len(), 1);
    let text = &mails[0].2;
    assert!(
        text.contains("Votre collectivité a déjà un compte HubEE"),
        "{text}"
    );
    assert!(!text.contains("Créez votre compte"), "{text}");
    assert!(text.contains("uniquement la démarche « Formulaire QF »"));
    assert!(mails[0].0.is_empty(), "no contact technique in copy");
}

#[tokio::test]
async fn a_refusal_from_the_form_is_shown_to_staff_and_retried_by_hand() {
    let form = FormStandIn::start(0).await;
    form.with(|f| {
        f.refuse.insert(SIRET.to_owned());
    });
    let vars = all_env(None, &form);
    let app = spawn(&vars).await;
    approve(&app, 503, |event, at| payload(event, 503, at, SIRET)).await;
    let id = collectivite_id(&app).await;
    let refused = eventually("the refusal", async || {
        activation(&app, &id).await.filter(|a| a.0 == "failed")
    })
    .await;
    assert_eq!(refused.1, 1, "a refusal is not retried");
    // Without HubEE, the e-mail is not held.
    assert_eq!(approval_mails(&app).await.len(), 1);

    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let (_, page) = staff.get_text(&format!("/collectivites/{id}")).await;
    assert!(page.contains("data-form-state=\"refused\""), "{page}");
    assert!(
        page.contains("n&#x27;est pas une collectivité éligible")
            || page.contains("n'est pas une collectivité éligible"),
        "{page}"
    );
    let (_, kit) = staff.get_text(&format!("/collectivites/{SIRET}/kit")).await;
    assert!(
        kit.contains("data-testid=\"form-not-live\""),
        "the kit warns"
    );
    // The demandeur sees it too.
    let demandeur = app.signed_in(DEMANDEUR).await;
    let (_, kit) = demandeur
        .get_text(&format!("/collectivites/{SIRET}/kit"))
        .await;
    assert!(kit.contains("data-testid=\"form-not-live\""));

    // Fixed on the form's side; staff retry.
    form.with(|f| f.refuse.clear());
    let response = staff
        .post_form(&format!("/collectivites/{id}/provisionner"), &[])
        .await;
    assert_eq!(response.status().as_u16(), 303);
    eventually("the activation after the manual retry", async || {
        activation(&app, &id)
            .await
            .filter(|a| a.0 == "done" && a.3 == Some(true))
    })
    .await;
    assert_eq!(form.lookup(COG).await, 200);
    let (_, page) = staff.get_text(&format!("/collectivites/{id}")).await;
    assert!(page.contains("data-form-state=\"online\""));
    // A collectivité without validated request: nothing to provision, said in French.
    let (status, body) = {
        let response = staff
            .post_form("/collectivites/demo-collectivite-049/provisionner", &[])
            .await;
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    };
    if status == 400 {
        assert!(body.contains("aucune demande validée"), "{body}");
    } else {
        assert_eq!(status, 303, "{body}");
    }
}

#[tokio::test]
async fn a_restart_while_calls_are_pending_loses_nothing() {
    // Both services are down for a long while.
    let hubee = HubeeStandIn::start(1_000_000).await;
    let form = FormStandIn::start(1_000_000).await;
    let vars = all_env(Some(&hubee), &form);
    let db = TestDb::new();
    let first_vars = vars.clone();
    let form_data = form.data.clone();
    // The first instance runs on its own runtime, dropped mid-way like a crashed process:
    // its workers stop with it.
    let db = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let db = runtime.block_on(async move {
            let app = TestApp::spawn_on(db, &env_of(&first_vars)).await;
            app.load_demo().await;
            approve(&app, 504, |event, at| payload(event, 504, at, SIRET)).await;
            let id = collectivite_id(&app).await;
            eventually("failed attempts on both sides", async || {
                let hubee = hubee_row(&app).await;
                let form = activation(&app, &id).await?;
                (hubee.3 >= 1 && form.1 >= 1 && hubee.2 == "pending" && form.0 == "pending")
                    .then_some(())
            })
            .await;
            assert!(
                approval_mails(&app).await.is_empty(),
                "held until HubEE answers"
            );
            let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
            let request_id: String = app
                .with_conn(|conn| {
                    use qf_backoffice::db::schema::habilitation_requests as hr;
                    hr::table
                        .filter(hr::datapass_id.eq(504))
                        .select(hr::id)
                        .first(conn)
                        .unwrap()
                })
                .await;
            let (_, page) = staff.get_text(&format!("/demandes/{request_id}")).await;
            assert!(
                page.contains("data-testid=\"approval-mail-held\""),
                "{page}"
            );
            assert!(page.contains("data-form-state=\"pending\""), "{page}");
            // The process dies while its next call to the form is under way: the job stays
            // claimed by a worker that no longer exists.
            form_data.lock().unwrap().hanging = 1;
            eventually("a call to the form under way", async || {
                (form_data.lock().unwrap().hung == 1).then_some(())
            })
            .await;
            let TestApp { db, .. } = app;
            db
        });
        runtime.shutdown_timeout(Duration::from_secs(2));
        db
    })
    .join()
    .expect("first instance");

    // The services are back; a new instance on the same database finishes the work.
    hubee.with(|h| h.failures = 0);
    form.with(|f| f.failures = 0);
    let app = TestApp::spawn_on(db, &env_of(&vars)).await;
    let id = collectivite_id(&app).await;
    let locked = app
        .with_conn(move |conn| {
            form_activations::table
                .find(&id)
                .select(form_activations::locked_until)
                .first::<Option<chrono::NaiveDateTime>>(conn)
                .unwrap()
        })
        .await;
    assert!(locked.is_some(), "claimed when the process died");
    // Taken over once the dead worker's lease (2 × FORM_API_TIMEOUT + 10 s) runs out.
    eventually("the form online after the restart", async || {
        (form.lookup(COG).await == 200).then_some(())
    })
    .await;
    let row = eventually("the subscription after the restart", async || {
        let row = hubee_row(&app).await;
        (row.2 == "done").then_some(row)
    })
    .await;
    assert_eq!(row.0.as_deref(), Some("hubee-sub-1"));
    assert_eq!(hubee.with(|h| h.subscriptions.len()), 1);
    assert_eq!(
        hubee.with(|h| h.subscriptions[0]["datapassId"].clone()),
        504
    );
    let mails = eventually("the approval e-mail", async || {
        let mails = approval_mails(&app).await;
        (!mails.is_empty()).then_some(mails)
    })
    .await;
    assert_eq!(mails.len(), 1, "sent once");
}

#[tokio::test]
async fn a_request_without_the_formulaire_qf_modality_provisions_nothing() {
    let hubee = HubeeStandIn::start(0).await;
    let form = FormStandIn::start(0).await;
    let vars = all_env(Some(&hubee), &form);
    let app = spawn(&vars).await;
    approve(&app, 505, |event, at| {
        let mut body = payload(event, 505, at, SIRET);
        body["data"]["data"]["modalities"] = json!(["params"]);
        body
    })
    .await;
    let id = collectivite_id(&app).await;
    // The approval e-mail is not held: nothing will come from HubEE.
    let mails = eventually("the approval e-mail", async || {
        let mails = approval_mails(&app).await;
        (!mails.is_empty()).then_some(mails)
    })
    .await;
    assert_eq!(mails.len(), 1);
    assert!(activation(&app, &id).await.is_none());
    let subscriptions: i64 = app
        .with_conn(|conn| {
            hubee_subscriptions::table
                .inner_join(collectivites::table)
                .filter(collectivites::siret.eq(SIRET))
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await;
    assert_eq!(subscriptions, 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(form.with(|f| f.posts.is_empty()));
    assert!(hubee.with(|h| h.organizations.is_empty() && h.subscriptions.is_empty()));
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let (_, page) = staff.get_text(&format!("/collectivites/{id}")).await;
    assert!(page.contains("data-form-state=\"not_requested\""));
}

#[tokio::test]
async fn an_unreachable_form_is_retried_with_a_growing_delay() {
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let vars = vec![
        ("DATAPASS_WEBHOOK_SECRET", SECRET.to_owned()),
        ("FORM_BASE_URL", url),
        ("FORM_API_KEY", "cle".to_owned()),
        ("FORM_API_RETRY_DELAY", "0.2".to_owned()),
    ];
    let app = spawn(&vars).await;
    approve(&app, 506, |event, at| payload(event, 506, at, SIRET)).await;
    let id = collectivite_id(&app).await;
    let (state, attempts, error, _) = eventually("two failed attempts", async || {
        activation(&app, &id).await.filter(|a| a.1 >= 2)
    })
    .await;
    assert_eq!(state, "pending", "an outage is retried, never dropped");
    assert!(error.unwrap_or_default().contains("injoignable"));
    let next: chrono::NaiveDateTime = app
        .with_conn(move |conn| {
            form_activations::table
                .find(&id)
                .select(form_activations::next_attempt_at)
                .first(conn)
                .unwrap()
        })
        .await;
    assert!(next > qf_backoffice::db::now(), "the next try waits");
    assert!(attempts < 10, "with a growing delay: {attempts}");
}

#[tokio::test]
async fn a_staff_decision_on_a_typed_in_request_provisions_too() {
    let hubee = HubeeStandIn::start(0).await;
    let form = FormStandIn::start(0).await;
    let vars = all_env(Some(&hubee), &form);
    let app = spawn(&vars).await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let csrf = staff.csrf().await;
    let response = staff
        .client
        .post(format!(
            "{}/demandes/nouvelle?csrf_token={csrf}",
            app.address
        ))
        .multipart(crate::instruction::request_form(
            SIRET,
            Some(("deliberation.pdf", crate::instruction::tiny_pdf())),
            "",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let response = staff
        .post_form(&format!("{location}/decision"), &[("action", "approve")])
        .await;
    assert_eq!(response.status().as_u16(), 303);

    let id = collectivite_id(&app).await;
    eventually("the form online", async || {
        activation(&app, &id)
            .await
            .filter(|a| a.3 == Some(true))
            .map(|_| ())
    })
    .await;
    assert_eq!(form.with(|f| f.posts[0]["editor"].clone()), Value::Null);
    // HubEE: the organization is created; without a DataPass number the subscription cannot
    // be, and staff are told why.
    let row = eventually("the HubEE refusal", async || {
        let row = hubee_row(&app).await;
        (row.2 == "failed").then_some(row)
    })
    .await;
    assert_eq!(row.1.as_deref(), Some("created"));
    assert!(hubee.with(|h| h.subscriptions.is_empty()));
    let subscription: String = app
        .with_conn(|conn| {
            hubee_subscriptions::table
                .inner_join(collectivites::table)
                .filter(collectivites::siret.eq(SIRET))
                .select(hubee_subscriptions::id)
                .first(conn)
                .unwrap()
        })
        .await;
    let (_, page) = staff
        .get_text(&format!("/abonnements/{subscription}"))
        .await;
    assert!(page.contains("pas de numéro DataPass"), "{page}");
    // The approval e-mail went out once HubEE answered on the organization.
    let mails: Vec<String> = app
        .with_conn(|conn| {
            outbox::table
                .filter(outbox::template.eq("decision_approved"))
                .filter(outbox::to_addresses.eq("agent@saint-exemple.fr"))
                .select(outbox::text_body)
                .load(conn)
                .unwrap()
        })
        .await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("Créez votre compte"), "{}", mails[0]);
}

#[tokio::test]
async fn a_request_validated_on_datapass_and_found_by_reconciliation_is_provisioned() {
    let hubee = HubeeStandIn::start(0).await;
    let form = FormStandIn::start(0).await;
    let datapass = crate::datapass::stand_in(
        &[crate::datapass::demande(
            40_001,
            "validated",
            SIRET,
            "2026-11-20T10:00:00Z",
        )],
        10,
    )
    .await;
    let mut vars = crate::datapass::api_settings(&datapass, 10);
    vars.extend(hubee.env());
    vars.extend(form.env());
    let app = TestApp::spawn_with(&env_of(&vars)).await;
    let client = app.state.datapass.clone().expect("DataPass configured");
    qf_backoffice::instruction::sync::run(&app.state, &client)
        .await
        .expect("sync runs");
    // Corsica: the organization and the form get the COG 2A004, the form the département 2A.
    eventually("the form online", async || {
        (form.lookup("2A004").await == 200).then_some(())
    })
    .await;
    assert_eq!(form.with(|f| f.posts[0]["departement"].clone()), "2A");
    let subscription = eventually("the subscription in HubEE", async || {
        hubee.with(|h| h.subscriptions.first().cloned())
    })
    .await;
    assert_eq!(subscription["datapassId"], 40_001);
    assert_eq!(subscription["subscriber"]["branchCode"], "2A004");
}

/// Renders the approval e-mail of one variant: subject, then the text body.
fn render_variant(editeur: bool, had_hubee_account: bool) -> String {
    let tera = qf_backoffice::state::load_templates().expect("templates");
    let mut context = tera::Context::new();
    context.insert(
        "facts",
        &json!({
            "request_id": "0b8c2f0e-demande",
            "datapass_id": 48213,
            "collectivite_name": "Commune de Saint-Exemple",
            "siret": SIRET,
            "had_hubee_account": had_hubee_account,
            "editeur_name": if editeur { Some("Mushroom Software") } else { None },
            "demandeur": DEMANDEUR,
            "contact_technique": if editeur { Some("api@mushroom-software.fr") } else { None },
            "token_id": "5f0c7a8e-1d2b-4c3d-9e8f-0a1b2c3d4e5f",
            "token_expires_on": "2028-05-29",
        }),
    );
    context.insert("reason", &Option::<String>::None);
    context.insert("public_url", "https://backoffice.exemple.gouv.fr");
    context.insert(
        "form_url",
        &format!("https://quotient-familial.numerique.gouv.fr/collectivites/{SIRET}"),
    );
    context.insert(
        "kit_url",
        &format!("https://backoffice.exemple.gouv.fr/collectivites/{SIRET}/kit"),
    );
    context.insert("form_activation_automatic", &true);
    context.insert("hubee_automatic", &true);
    context.insert(
        "request_url",
        "https://backoffice.exemple.gouv.fr/demandes/0b8c2f0e-demande",
    );
    let email = qf_backoffice::mail::render(
        &tera,
        "decision_approved",
        vec![DEMANDEUR.to_owned()],
        vec![],
        &context,
    )
    .expect("renders");
    assert!(email.html.contains("Commune de Saint-Exemple"));
    format!("Objet : {}\n\n{}", email.subject, email.text)
}

#[test]
fn each_approval_email_variant_matches_its_snapshot() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("snapshots")
        .join("decision_approved");
    let update = std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1");
    for (name, editeur, had) in [
        ("sans_editeur_sans_compte_hubee", false, false),
        ("sans_editeur_avec_compte_hubee", false, true),
        ("avec_editeur_sans_compte_hubee", true, false),
        ("avec_editeur_avec_compte_hubee", true, true),
    ] {
        let rendered = render_variant(editeur, had);
        let path = dir.join(format!("{name}.txt"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &rendered).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!(
                "missing snapshot {} (UPDATE_SNAPSHOTS=1 writes it)",
                path.display()
            )
        });
        assert_eq!(rendered, expected, "snapshot {name} differs");
    }
    // What distinguishes the variants.
    let no_account = render_variant(false, false);
    assert!(no_account.contains("valable 48 heures"));
    assert!(no_account.contains("Mot de passe oublié"));
    assert!(no_account.contains("adresse générique"));
    assert!(no_account.contains("postérieure à la création des comptes"));
    assert!(no_account.contains("Ne choisissez « API » que si"));
    assert!(!render_variant(false, true).contains("Créez votre compte"));
    let with_editeur = render_variant(true, false);
    assert!(with_editeur.contains("vous pouvez ignorer les étapes techniques de HubEE"));
    assert!(with_editeur.contains("Récupérez le jeton API Particulier"));
    assert!(!render_variant(true, true).contains("e-mail de HubEE"));
}
