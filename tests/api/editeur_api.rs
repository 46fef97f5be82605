//! The éditeur API: keys (created, used, revoked, stored hashed, from the command line too),
//! isolation between éditeurs (list, one client, CSV, calendar), cursor pagination under
//! inserts, JSON errors (401, 400, 429), the CSV and the calendar parsed back, and the OpenAPI
//! document against the router.

use std::collections::BTreeSet;

use diesel::prelude::*;
use qf_backoffice::db::schema::{api_keys, collectivites, editeur_members, habilitation_requests};
use qf_backoffice::models::api_keys as keys;
use serde_json::Value;

use crate::helpers::TestApp;

pub const MUSHROOM: &str = "equipe@mushroom-software.fr";
pub const ARPEGE: &str = "equipe@arpege-citoyen.fr";

/// The éditeur id of a demo member.
pub async fn editeur_of(app: &TestApp, member: &'static str) -> String {
    app.with_conn(move |conn| {
        editeur_members::table
            .filter(editeur_members::email.eq(member))
            .select(editeur_members::editeur_id)
            .first(conn)
            .unwrap()
    })
    .await
}

/// A new key for an éditeur, as its holder would see it once.
pub async fn new_key(app: &TestApp, editeur_id: &str, name: &str) -> String {
    let editeur_id = editeur_id.to_owned();
    let name = name.to_owned();
    app.with_conn(move |conn| {
        let random = qf_backoffice::auth::random_hex(32).unwrap();
        let (_, key) = keys::create(
            conn,
            &editeur_id,
            &name,
            &random,
            "test",
            qf_backoffice::db::now(),
        )
        .unwrap();
        key
    })
    .await
}

pub async fn api_get(app: &TestApp, path: &str, key: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(format!("{}{path}", app.address));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap()
}

async fn json(app: &TestApp, path: &str, key: &str) -> Value {
    let response = api_get(app, path, Some(key)).await;
    assert_eq!(response.status().as_u16(), 200, "{path}");
    response.json().await.unwrap()
}

/// Every SIRET of a list, walking all pages of `limite` rows.
async fn all_sirets(app: &TestApp, key: &str, limit: usize) -> Vec<String> {
    let mut sirets = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/clients?limite={limit}&curseur={c}"),
            None => format!("/api/v1/clients?limite={limit}"),
        };
        let page = json(app, &path, key).await;
        let items = page["clients"].as_array().unwrap();
        assert!(items.len() <= limit);
        sirets.extend(
            items
                .iter()
                .map(|c| c["siret"].as_str().unwrap().to_owned()),
        );
        match page["curseur_suivant"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return sirets,
        }
    }
}

/// The SIRETs of the collectivités with a request through the éditeur, from the database.
async fn expected_sirets(app: &TestApp, editeur_id: &str) -> BTreeSet<String> {
    let editeur_id = editeur_id.to_owned();
    app.with_conn(move |conn| {
        let forms: Vec<String> = qf_backoffice::db::schema::editeur_forms::table
            .filter(qf_backoffice::db::schema::editeur_forms::editeur_id.eq(&editeur_id))
            .select(qf_backoffice::db::schema::editeur_forms::form_uid)
            .load(conn)
            .unwrap();
        habilitation_requests::table
            .inner_join(collectivites::table)
            .filter(
                habilitation_requests::editeur_id
                    .eq(&editeur_id)
                    .or(habilitation_requests::form_uid.eq_any(forms)),
            )
            .select(collectivites::siret)
            .load::<String>(conn)
            .unwrap()
            .into_iter()
            .collect()
    })
    .await
}

async fn error_of(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = response.json().await.unwrap();
    let message = body["message"].as_str().unwrap().to_owned();
    assert!(!message.is_empty());
    (status, body["error"].as_str().unwrap().to_owned(), message)
}

#[tokio::test]
async fn a_key_is_stored_hashed_records_its_use_and_stops_working_once_revoked() {
    let app = TestApp::spawn_with_demo().await;
    let editeur = editeur_of(&app, MUSHROOM).await;
    let key = new_key(&app, &editeur, "Production").await;
    assert!(key.starts_with("qfb_") && key.len() == 68, "{key}");
    let (row_id, stored_hash, prefix, last_used): (
        String,
        String,
        String,
        Option<chrono::NaiveDateTime>,
    ) = app
        .with_conn(|conn| {
            api_keys::table
                .select((
                    api_keys::id,
                    api_keys::key_hash,
                    api_keys::key_prefix,
                    api_keys::last_used_at,
                ))
                .first(conn)
                .unwrap()
        })
        .await;
    assert_eq!(stored_hash, keys::hash_key(&key));
    assert!(!stored_hash.contains(&key[4..]));
    assert!(key.starts_with(&prefix) && prefix.len() < 12);
    assert!(last_used.is_none());

    let page = json(&app, "/api/v1/clients", &key).await;
    assert_eq!(page["editeur"], "Mushroom Software");
    assert!(!page["clients"].as_array().unwrap().is_empty());
    let last_used: Option<chrono::NaiveDateTime> = app
        .with_conn(|conn| {
            api_keys::table
                .select(api_keys::last_used_at)
                .first(conn)
                .unwrap()
        })
        .await;
    assert!(last_used.is_some(), "last use recorded");

    let editeur_for_revoke = editeur.clone();
    let revoked = app
        .with_conn(move |conn| {
            keys::revoke(
                conn,
                &editeur_for_revoke,
                &row_id,
                "test",
                qf_backoffice::db::now(),
            )
            .unwrap()
        })
        .await;
    assert!(revoked);
    let (status, code, _) = error_of(api_get(&app, "/api/v1/clients", Some(&key)).await).await;
    assert_eq!((status, code.as_str()), (401, "cle_invalide"));
}

#[tokio::test]
async fn no_key_a_wrong_key_and_too_many_requests_answer_json() {
    let app = TestApp::spawn_with(&[("API_RATE_LIMIT", "3")]).await;
    app.load_demo().await;
    let response = api_get(&app, "/api/v1/clients", None).await;
    assert!(response.headers().get("www-authenticate").is_some());
    let (status, code, message) = error_of(response).await;
    assert_eq!((status, code.as_str()), (401, "cle_absente"));
    assert!(message.contains("Authorization"), "{message}");
    // A path the API does not have answers JSON too, not the HTML error page.
    let (status, code, _) = error_of(api_get(&app, "/api/v1/inconnue", None).await).await;
    assert_eq!((status, code.as_str()), (404, "route_inconnue"));
    for wrong in ["Bearer qfb_faux", "Basic dXNlcjpwYXNz", "Bearer "] {
        let response = app
            .client
            .get(format!("{}/api/v1/clients.csv", app.address))
            .header("authorization", wrong)
            .send()
            .await
            .unwrap();
        let (status, code, _) = error_of(response).await;
        assert_eq!(status, 401, "{wrong}");
        assert!(code.starts_with("cle_"), "{wrong}: {code}");
    }

    let editeur = editeur_of(&app, MUSHROOM).await;
    let key = new_key(&app, &editeur, "Limitée").await;
    let other = new_key(&app, &editeur, "Autre").await;
    for _ in 0..3 {
        assert_eq!(
            api_get(&app, "/api/v1/clients", Some(&key))
                .await
                .status()
                .as_u16(),
            200
        );
    }
    let response = api_get(&app, "/api/v1/echeances.ics", Some(&key)).await;
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (429, "trop_de_requetes"));
    // The limit is per key.
    assert_eq!(
        api_get(&app, "/api/v1/clients", Some(&other))
            .await
            .status()
            .as_u16(),
        200
    );

    // Bad parameters: 400 with a code (a fresh key each, the limit being 3 a minute).
    for (path, expected) in [
        ("/api/v1/clients?expire_avant=31/12/2027", "date_invalide"),
        ("/api/v1/clients?statut=valide", "statut_invalide"),
        ("/api/v1/clients?limite=0", "limite_invalide"),
        ("/api/v1/clients?curseur=abc", "curseur_invalide"),
    ] {
        let fresh = new_key(&app, &editeur, expected).await;
        let (status, code, _) = error_of(api_get(&app, path, Some(&fresh)).await).await;
        assert_eq!((status, code.as_str()), (400, expected), "{path}");
    }
}

#[tokio::test]
async fn an_editeur_never_reads_another_editeurs_clients() {
    let app = TestApp::spawn_with_demo().await;
    let a = editeur_of(&app, MUSHROOM).await;
    let b = editeur_of(&app, ARPEGE).await;
    let key_a = new_key(&app, &a, "A").await;
    let expected_a = expected_sirets(&app, &a).await;
    let expected_b = expected_sirets(&app, &b).await;
    assert!(!expected_a.is_empty() && !expected_b.is_empty());
    let only_b: Vec<&String> = expected_b.difference(&expected_a).collect();
    assert!(!only_b.is_empty());

    let listed: BTreeSet<String> = all_sirets(&app, &key_a, 200).await.into_iter().collect();
    assert_eq!(listed, expected_a);

    for siret in &only_b {
        let (status, code, _) =
            error_of(api_get(&app, &format!("/api/v1/clients/{siret}"), Some(&key_a)).await).await;
        assert_eq!((status, code.as_str()), (404, "client_inconnu"));
    }
    let own = expected_a.iter().next().unwrap();
    let client = json(&app, &format!("/api/v1/clients/{own}"), &key_a).await;
    assert_eq!(client["siret"], own.as_str());
    assert!(
        client["form_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/collectivites/{own}"))
    );

    let csv = api_get(&app, "/api/v1/clients.csv", Some(&key_a))
        .await
        .text()
        .await
        .unwrap();
    let ics = api_get(&app, "/api/v1/echeances.ics", Some(&key_a))
        .await
        .text()
        .await
        .unwrap();
    for siret in &only_b {
        assert!(!csv.contains(siret.as_str()), "CSV leaks {siret}");
        assert!(!ics.contains(siret.as_str()), "calendar leaks {siret}");
    }
}

#[tokio::test]
async fn a_large_editeurs_clients_are_the_same_when_walked_by_siret() {
    let app = TestApp::spawn_with_demo().await;
    let a = editeur_of(&app, MUSHROOM).await;
    let b = editeur_of(&app, ARPEGE).await;
    let key_a = new_key(&app, &a, "A").await;
    let expected_a = expected_sirets(&app, &a).await;
    let only_b: Vec<String> = expected_sirets(&app, &b)
        .await
        .difference(&expected_a)
        .cloned()
        .collect();
    let small_pages = all_sirets(&app, &key_a, 3).await;
    let small_csv = api_get(&app, "/api/v1/clients.csv", Some(&key_a))
        .await
        .text()
        .await
        .unwrap();
    // The counters say A has thousands of client requests: its clients are now walked in
    // SIRET order with a probe each instead of through the set of its clients.
    let editeur = a.clone();
    app.with_conn(move |conn| {
        diesel::sql_query(format!(
            "INSERT INTO request_link_counts (form_uid, editeur_id, n) \
             VALUES ('mesure-grand', '{editeur}', 5000)"
        ))
        .execute(conn)
        .unwrap()
    })
    .await;
    let large_pages = all_sirets(&app, &key_a, 3).await;
    assert_eq!(
        large_pages, small_pages,
        "same clients, same order, same pages"
    );
    assert_eq!(
        large_pages.iter().cloned().collect::<BTreeSet<_>>(),
        expected_a
    );
    let large_csv = api_get(&app, "/api/v1/clients.csv", Some(&key_a))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(large_csv, small_csv);
    for siret in &only_b {
        let (status, code, _) =
            error_of(api_get(&app, &format!("/api/v1/clients/{siret}"), Some(&key_a)).await).await;
        assert_eq!((status, code.as_str()), (404, "client_inconnu"));
    }
}

#[tokio::test]
async fn cursor_pages_stay_stable_when_clients_are_added() {
    let app = TestApp::spawn_with_demo().await;
    let a = editeur_of(&app, MUSHROOM).await;
    let key = new_key(&app, &a, "Pages").await;
    let before = all_sirets(&app, &key, 2).await;
    assert!(before.len() >= 4, "{before:?}");
    let mut sorted = before.clone();
    sorted.sort();
    assert_eq!(before, sorted, "SIRET order");

    // Read the first page, then add clients before and after its cursor.
    let first = json(&app, "/api/v1/clients?limite=2", &key).await;
    let cursor = first["curseur_suivant"].as_str().unwrap().to_owned();
    let early = "00000000000001".to_owned();
    let late = "99999999999999".to_owned();
    for (n, siret) in [&early, &late].into_iter().enumerate() {
        let siret = siret.clone();
        let editeur = a.clone();
        app.with_conn(move |conn| {
            let now = qf_backoffice::db::now();
            let collectivite = format!("col-pagination-{n}");
            diesel::insert_into(collectivites::table)
                .values((
                    collectivites::id.eq(&collectivite),
                    collectivites::siret.eq(&siret),
                    collectivites::name.eq(format!("Ajoutée {n}")),
                    collectivites::kind.eq("commune"),
                    collectivites::active.eq(true),
                    collectivites::had_hubee_account.eq(false),
                    collectivites::created_at.eq(now),
                    collectivites::updated_at.eq(now),
                ))
                .execute(conn)
                .unwrap();
            diesel::insert_into(habilitation_requests::table)
                .values((
                    habilitation_requests::id.eq(format!("req-pagination-{n}")),
                    habilitation_requests::collectivite_id.eq(&collectivite),
                    habilitation_requests::form_uid.eq("formulaire-qf"),
                    habilitation_requests::editeur_id.eq(&editeur),
                    habilitation_requests::state.eq("submitted"),
                    habilitation_requests::reopening.eq(false),
                    habilitation_requests::scopes.eq("[]"),
                    habilitation_requests::created_at.eq(now),
                    habilitation_requests::updated_at.eq(now),
                ))
                .execute(conn)
                .unwrap();
        })
        .await;
    }
    // The rest of the walk from the old cursor: nothing seen twice, nothing skipped, the
    // late newcomer at the end, the early one not slipped in.
    let mut rest = Vec::new();
    let mut next = Some(cursor);
    while let Some(c) = next {
        let page = json(&app, &format!("/api/v1/clients?limite=2&curseur={c}"), &key).await;
        rest.extend(
            page["clients"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["siret"].as_str().unwrap().to_owned()),
        );
        next = page["curseur_suivant"].as_str().map(str::to_owned);
    }
    let first_sirets: Vec<String> = first["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["siret"].as_str().unwrap().to_owned())
        .collect();
    let mut walked = first_sirets.clone();
    walked.extend(rest.iter().cloned());
    let mut expected = before.clone();
    expected.push(late.clone());
    assert_eq!(walked, expected);
    assert!(!rest.contains(&early));
    // A fresh walk sees both.
    let after = all_sirets(&app, &key, 2).await;
    assert_eq!(after.first(), Some(&early));
    assert_eq!(after.last(), Some(&late));
    assert_eq!(after.len(), before.len() + 2);
}

#[tokio::test]
async fn filters_csv_and_calendar_parse_back() {
    let app = TestApp::spawn_with_demo().await;
    let a = editeur_of(&app, MUSHROOM).await;
    let key = new_key(&app, &a, "Exports").await;
    let all = json(&app, "/api/v1/clients?limite=200", &key).await;
    let clients = all["clients"].as_array().unwrap().clone();

    // Filters.
    let cutoff = chrono::Utc::now().date_naive() + chrono::Duration::days(100);
    let expiring = json(
        &app,
        &format!("/api/v1/clients?limite=200&expire_avant={cutoff}"),
        &key,
    )
    .await;
    let expected: Vec<&Value> = clients
        .iter()
        .filter(|c| {
            c["token_expires_on"]
                .as_str()
                .is_some_and(|d| d < cutoff.to_string().as_str())
        })
        .collect();
    assert_eq!(
        expiring["clients"].as_array().unwrap().len(),
        expected.len()
    );
    let validated = json(&app, "/api/v1/clients?limite=200&statut=validated", &key).await;
    for c in validated["clients"].as_array().unwrap() {
        assert_eq!(c["request_state"], "validated");
    }

    // CSV: BOM, French headers, one line per client, same values.
    let response = api_get(&app, "/api/v1/clients.csv", Some(&key)).await;
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let bytes = response.bytes().await.unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF");
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(&bytes[3..]);
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "SIRET");
    assert_eq!(&headers[1], "Collectivité");
    assert_eq!(&headers[4], "Expiration du jeton");
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), clients.len());
    for (record, client) in records.iter().zip(&clients) {
        assert_eq!(&record[0], client["siret"].as_str().unwrap());
        assert_eq!(&record[1], client["name"].as_str().unwrap());
        assert_eq!(
            &record[4],
            client["token_expires_on"].as_str().unwrap_or_default()
        );
        assert_eq!(&record[9], client["form_url"].as_str().unwrap());
    }

    // Calendar: RFC 5545 parsed by a parser crate; one event per live token, 90-day alarm.
    let response = api_get(&app, "/api/v1/echeances.ics", Some(&key)).await;
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let text = response.text().await.unwrap();
    assert!(text.contains("\r\n"));
    for line in text.split("\r\n") {
        assert!(line.len() <= 75, "folded: {line}");
    }
    let unfolded = icalendar::parser::unfold(&text);
    let calendar = icalendar::parser::read_calendar(&unfolded).unwrap();
    assert!(
        calendar
            .properties
            .iter()
            .any(|p| p.name.as_str() == "VERSION" && p.val.as_str() == "2.0")
    );
    let events: Vec<_> = calendar
        .components
        .iter()
        .filter(|c| c.name.as_str() == "VEVENT")
        .collect();
    let with_live_token: Vec<&Value> = clients
        .iter()
        .filter(|c| !c["token_expires_on"].is_null() && c["token_status"] != "revoked")
        .collect();
    assert!(!with_live_token.is_empty());
    assert_eq!(events.len(), with_live_token.len());
    let mut uids = BTreeSet::new();
    for (event, client) in events.iter().zip(&with_live_token) {
        let start = event.find_prop("DTSTART").unwrap();
        assert_eq!(
            start.val.as_str(),
            client["token_expires_on"]
                .as_str()
                .unwrap()
                .replace('-', "")
        );
        assert!(uids.insert(event.find_prop("UID").unwrap().val.as_str().to_owned()));
        let summary = event.find_prop("SUMMARY").unwrap().val.as_str().to_owned();
        assert!(
            summary.contains(client["siret"].as_str().unwrap()),
            "{summary}"
        );
        let alarm = event
            .components
            .iter()
            .find(|c| c.name.as_str() == "VALARM")
            .expect("a reminder");
        assert_eq!(alarm.find_prop("TRIGGER").unwrap().val.as_str(), "-P90D");
        assert_eq!(alarm.find_prop("ACTION").unwrap().val.as_str(), "DISPLAY");
    }
}

#[tokio::test]
async fn the_openapi_document_lists_every_api_route_the_router_serves() {
    let app = TestApp::spawn().await;
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status().as_u16(), 200);
    let document: Value = response.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = BTreeSet::new();
    for (path, methods) in document["paths"].as_object().unwrap() {
        for (method, operation) in methods.as_object().unwrap() {
            assert!(operation["responses"].is_object(), "{method} {path}");
            documented.insert((method.clone(), path.clone()));
        }
    }
    let served: BTreeSet<(String, String)> = qf_backoffice::routes::all_routes()
        .into_iter()
        .filter(|(_, path)| path.starts_with("/api/v1/"))
        .map(|(m, p)| (m.to_owned(), p.to_owned()))
        .collect();
    assert_eq!(documented, served);
    assert!(served.len() >= 5);
    // Each protected operation declares the bearer scheme and its 401.
    let client_op = &document["paths"]["/api/v1/clients/{siret}"]["get"];
    assert!(client_op["responses"]["401"].is_object());
    assert_eq!(
        document["components"]["securitySchemes"]["cle"]["scheme"],
        "bearer"
    );

    // The page for humans shows every operation, without any inline script.
    let (status, html) = app.get_text("/api/documentation").await;
    assert_eq!(status, 200);
    let html = html.replace("&#x2F;", "/");
    for (method, path) in &served {
        assert!(
            html.contains(&format!(
                "data-operation=\"{} {}\"",
                method.to_uppercase(),
                path
            )),
            "{method} {path}"
        );
    }
    assert!(!html.contains("<script>"));
}

#[tokio::test]
async fn the_form_live_state_comes_from_the_form_activation() {
    use qf_backoffice::db::schema::form_activations;
    let app = TestApp::spawn_with_demo().await;
    let a = editeur_of(&app, MUSHROOM).await;
    let key = new_key(&app, &a, "Formulaires").await;
    let page = json(&app, "/api/v1/clients?limite=3", &key).await;
    let sirets: Vec<String> = page["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["siret"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sirets.len(), 3);
    for (siret, state, live) in [
        (sirets[0].clone(), "done", Some(true)),
        (sirets[1].clone(), "pending", None),
        (sirets[2].clone(), "none", None),
    ] {
        if state == "none" {
            app.with_conn(move |conn| {
                let id: String = collectivites::table
                    .filter(collectivites::siret.eq(&siret))
                    .select(collectivites::id)
                    .first(conn)
                    .unwrap();
                diesel::delete(
                    form_activations::table.filter(form_activations::collectivite_id.eq(id)),
                )
                .execute(conn)
                .unwrap();
            })
            .await;
            continue;
        }
        app.with_conn(move |conn| {
            let now = qf_backoffice::db::now();
            let id: String = collectivites::table
                .filter(collectivites::siret.eq(&siret))
                .select(collectivites::id)
                .first(conn)
                .unwrap();
            diesel::delete(
                form_activations::table.filter(form_activations::collectivite_id.eq(&id)),
            )
            .execute(conn)
            .unwrap();
            diesel::insert_into(form_activations::table)
                .values((
                    form_activations::collectivite_id.eq(&id),
                    form_activations::state.eq(state),
                    form_activations::attempts.eq(0),
                    form_activations::next_attempt_at.eq(now),
                    form_activations::requested_at.eq(now),
                    form_activations::live.eq(live),
                    form_activations::updated_at.eq(now),
                ))
                .execute(conn)
                .unwrap();
        })
        .await;
    }
    let page = json(&app, "/api/v1/clients?limite=3", &key).await;
    let live: Vec<Value> = page["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["form_live"].clone())
        .collect();
    assert_eq!(
        live,
        vec![Value::Bool(true), Value::Bool(false), Value::Null]
    );
}

/// Measurement (ignored by default: it inserts 5 000 clients): an éditeur with 5 000 clients,
/// each with a request and a token; first page, a later page, a filter keeping few rows (the
/// walk reads every chunk), the CSV and the calendar.
#[tokio::test]
#[ignore = "measurement: cargo test --test api -- --ignored editeur_api::five_thousand"]
async fn five_thousand_clients_answer_quickly() {
    use qf_backoffice::db::schema::{habilitations, tokens};
    let app = TestApp::spawn_with_demo().await;
    let a = editeur_of(&app, MUSHROOM).await;
    let key = new_key(&app, &a, "Mesure").await;
    let editeur = a.clone();
    app.with_conn(move |conn| {
        let now = qf_backoffice::db::now();
        let today = now.date();
        conn.transaction::<_, diesel::result::Error, _>(|conn| {
            for n in 0..5000 {
                let collectivite = format!("mesure-col-{n}");
                diesel::insert_into(collectivites::table)
                    .values((
                        collectivites::id.eq(&collectivite),
                        collectivites::siret.eq(format!("3{n:013}")),
                        collectivites::name.eq(format!("Commune mesure {n}")),
                        collectivites::kind.eq("commune"),
                        collectivites::active.eq(true),
                        collectivites::had_hubee_account.eq(false),
                        collectivites::created_at.eq(now),
                        collectivites::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                diesel::insert_into(habilitation_requests::table)
                    .values((
                        habilitation_requests::id.eq(format!("mesure-req-{n}")),
                        habilitation_requests::collectivite_id.eq(&collectivite),
                        habilitation_requests::form_uid.eq("formulaire-qf"),
                        habilitation_requests::editeur_id.eq(&editeur),
                        habilitation_requests::state.eq("validated"),
                        habilitation_requests::reopening.eq(false),
                        habilitation_requests::scopes.eq("[]"),
                        habilitation_requests::created_at.eq(now),
                        habilitation_requests::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                diesel::insert_into(habilitations::table)
                    .values((
                        habilitations::id.eq(format!("mesure-hab-{n}")),
                        habilitations::request_id.eq(format!("mesure-req-{n}")),
                        habilitations::collectivite_id.eq(&collectivite),
                        habilitations::state.eq("active"),
                        habilitations::validated_at.eq(now),
                        habilitations::created_at.eq(now),
                    ))
                    .execute(conn)?;
                diesel::insert_into(tokens::table)
                    .values((
                        tokens::id.eq(format!("mesure-token-{n}")),
                        tokens::habilitation_id.eq(format!("mesure-hab-{n}")),
                        tokens::collectivite_id.eq(&collectivite),
                        tokens::scopes.eq("[]"),
                        tokens::issued_at.eq(now),
                        tokens::expires_on.eq(today + chrono::Duration::days(100 + n % 400)),
                        tokens::created_at.eq(now),
                        tokens::updated_at.eq(now),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let cutoff = chrono::Utc::now().date_naive() + chrono::Duration::days(101);
    let mut report = Vec::new();
    for path in [
        "/api/v1/clients?limite=200".to_owned(),
        "/api/v1/clients?limite=200&curseur=30000000004000".to_owned(),
        format!("/api/v1/clients?limite=200&expire_avant={cutoff}"),
        "/api/v1/clients.csv".to_owned(),
        "/api/v1/echeances.ics".to_owned(),
    ] {
        let started = std::time::Instant::now();
        let response = api_get(&app, &path, Some(&key)).await;
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let body = response.bytes().await.unwrap();
        let elapsed = started.elapsed();
        report.push(format!(
            "{path}: {} ms, {} bytes",
            elapsed.as_millis(),
            body.len()
        ));
        assert!(
            elapsed < std::time::Duration::from_secs(5),
            "{path}: {elapsed:?}"
        );
    }
    println!("{}", report.join("\n"));
}
