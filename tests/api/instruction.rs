//! Instruction by staff: the queue, the request page's checks, decisions and their e-mails,
//! requests typed in by staff with their délibération, and reason templates.

use diesel::prelude::*;
use qf_backoffice::db::schema::{
    collectivites, deliberation_files, events, habilitation_requests, hubee_subscriptions, outbox,
    reason_templates, tokens,
};
use qf_backoffice::demo::DEMO_INSTRUCTEUR;

use crate::helpers::TestApp;
use crate::webhook::{SIRET, deliver, payload, spawn, state_of};

fn ids_in(html: &str) -> Vec<String> {
    html.match_indices("data-request=\"")
        .map(|(i, _)| {
            let rest = &html[i + 14..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

/// A request's (state, reopening) by its id.
pub async fn state_by_id(app: &crate::helpers::TestApp, id: &str) -> Option<(String, bool)> {
    let id = id.to_owned();
    app.with_conn(move |conn| {
        habilitation_requests::table
            .find(id)
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

/// Local decisions are for requests typed in by staff, which carry no DataPass number: this
/// turns a request received from DataPass into one (the staff entry form is tested below).
pub async fn typed_in_by_staff(app: &crate::helpers::TestApp, id: &str) {
    let id = id.to_owned();
    app.with_conn(move |conn| {
        diesel::update(habilitation_requests::table.find(id))
            .set(habilitation_requests::datapass_id.eq(None::<i64>))
            .execute(conn)
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn the_queue_puts_reopenings_first_then_by_deadline_and_filters() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let (status, html) = staff.get_text("/instruction").await;
    assert_eq!(status, 200);
    let ids = ids_in(&html);
    let expected: i64 = app
        .with_conn(|conn| {
            habilitation_requests::table
                .filter(habilitation_requests::state.eq_any(["submitted", "changes_requested"]))
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await;
    assert_eq!(ids.len() as i64, expected);
    // The demo's reopening (request 028) comes first.
    assert_eq!(ids[0], "demo-request-028");
    // Then oldest submission first.
    let submitted: Vec<(String, chrono::NaiveDateTime)> = app
        .with_conn(|conn| {
            habilitation_requests::table
                .filter(habilitation_requests::state.eq_any(["submitted", "changes_requested"]))
                .filter(habilitation_requests::reopening.eq(false))
                .select((
                    habilitation_requests::id,
                    habilitation_requests::last_submitted_at.assume_not_null(),
                ))
                .load(conn)
                .unwrap()
        })
        .await;
    let positions: Vec<usize> = ids[1..]
        .iter()
        .map(|id| submitted.iter().position(|(i, _)| i == id).unwrap())
        .collect();
    for pair in positions.windows(2) {
        assert!(
            submitted[pair[0]].1 <= submitted[pair[1]].1,
            "ordered by submission"
        );
    }
    assert!(
        html.contains("data-deadline=\"overdue\""),
        "overdue ones are marked"
    );

    // Filters.
    let (_, html) = staff.get_text("/instruction?etat=changes_requested").await;
    assert_eq!(ids_in(&html).len(), 3);
    let (_, html) = staff.get_text("/instruction?en_retard=1").await;
    assert!(!ids_in(&html).is_empty());
    assert!(!html.contains("data-deadline=\"on_time\""), "{html}");
    let (_, html) = staff
        .get_text("/instruction?editeur=demo-editeur-000")
        .await;
    let mushroom = ids_in(&html);
    assert!(!mushroom.is_empty());
    assert!(mushroom.iter().all(|id| {
        let n: usize = id.trim_start_matches("demo-request-").parse().unwrap();
        n % 5 != 4 && n.is_multiple_of(4)
    }));
    let (_, html) = staff.get_text("/instruction?departement=22").await;
    // Lannion (22) is in the queue; Saint-Brieuc (22) is validated, so not.
    assert_eq!(ids_in(&html), ["demo-request-030"]);
    // Search by D-number, SIRET, name, contact e-mail.
    let (_, html) = staff.get_text("/instruction?q=D12210").await;
    assert_eq!(ids_in(&html), ["demo-request-030"]);
    let (_, html) = staff.get_text("/instruction?q=LANNION").await;
    assert_eq!(ids_in(&html), ["demo-request-030"]);
    let siret: String = app
        .with_conn(|conn| {
            use qf_backoffice::db::schema::collectivites;
            collectivites::table
                .find("demo-collectivite-030")
                .select(collectivites::siret)
                .first(conn)
                .unwrap()
        })
        .await;
    let (_, html) = staff.get_text(&format!("/instruction?q={siret}")).await;
    assert_eq!(ids_in(&html), ["demo-request-030"]);
    let (_, html) = staff.get_text("/instruction?q=dpd%40lannion.fr").await;
    assert_eq!(ids_in(&html), ["demo-request-030"]);
}

/// The queue's search reads what each kind finds apart (contacts, collectivités, D-numbers),
/// then applies every filter to it: a contact of requests out of the queue finds nothing, and
/// the state filter narrows a search whatever found the request.
#[tokio::test]
async fn the_queue_search_applies_every_filter_to_what_each_kind_finds() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let (outside, state_030, departement_030): (String, String, String) = app
        .with_conn(|conn| {
            use qf_backoffice::db::schema::request_contacts;
            let pending = ["submitted", "changes_requested"];
            let in_queue: Vec<String> = request_contacts::table
                .inner_join(habilitation_requests::table)
                .filter(habilitation_requests::state.eq_any(pending))
                .select(request_contacts::email)
                .load(conn)
                .unwrap();
            // An address of a request out of the queue that no queued contact contains.
            let outside = request_contacts::table
                .inner_join(habilitation_requests::table)
                .filter(habilitation_requests::state.ne_all(pending))
                .select(request_contacts::email)
                .load::<String>(conn)
                .unwrap()
                .into_iter()
                .find(|e| !in_queue.iter().any(|q| q.contains(e.as_str())))
                .unwrap();
            let (state, departement) = habilitation_requests::table
                .inner_join(qf_backoffice::db::schema::collectivites::table)
                .filter(habilitation_requests::id.eq("demo-request-030"))
                .select((
                    habilitation_requests::state,
                    qf_backoffice::db::schema::collectivites::departement,
                ))
                .first::<(String, Option<String>)>(conn)
                .unwrap();
            (outside, state, departement.expect("a département"))
        })
        .await;
    let encoded: String = url::form_urlencoded::byte_serialize(outside.as_bytes()).collect();
    let (status, html) = staff.get_text(&format!("/instruction?q={encoded}")).await;
    assert_eq!(status, 200);
    assert!(ids_in(&html).is_empty(), "{outside}: {:?}", ids_in(&html));
    let other = if state_030 == "submitted" {
        "changes_requested"
    } else {
        "submitted"
    };
    // By contact, by collectivité name, by D-number: found in its own state only.
    for q in ["dpd%40lannion.fr", "lannion", "D12210"] {
        let (_, html) = staff
            .get_text(&format!("/instruction?q={q}&etat={state_030}"))
            .await;
        assert_eq!(ids_in(&html), ["demo-request-030"], "{q}");
        let (_, html) = staff
            .get_text(&format!("/instruction?q={q}&etat={other}"))
            .await;
        assert!(ids_in(&html).is_empty(), "{q} in {other}");
        // The département narrows it too, whichever was asked first (each is its own search).
        let elsewhere = if departement_030 == "29" { "75" } else { "29" };
        for (departement, found) in [(elsewhere, false), (departement_030.as_str(), true)] {
            let (_, html) = staff
                .get_text(&format!("/instruction?q={q}&departement={departement}"))
                .await;
            assert_eq!(
                ids_in(&html).contains(&"demo-request-030".to_owned()),
                found,
                "{q} in {departement}"
            );
        }
    }
}

#[tokio::test]
async fn staff_decisions_need_a_reason_and_email_the_demandeur_with_the_editeur_in_copy() {
    let app = spawn().await;
    for (i, event) in ["create", "submit"].iter().enumerate() {
        assert_eq!(
            deliver(&app, &payload(event, 601, 1_790_000_000 + i as i64, SIRET))
                .await
                .0,
            200
        );
    }
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
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let id: String = app
        .with_conn(|conn| {
            habilitation_requests::table
                .select(habilitation_requests::id)
                .first(conn)
                .unwrap()
        })
        .await;
    // Received from DataPass: decided on DataPass, the page links there, a POST is refused.
    let (status, page) = staff.get_text(&format!("/demandes/{id}")).await;
    assert_eq!(status, 200);
    assert!(page.contains("data-testid=\"decide-on-datapass\""));
    assert!(
        page.replace("&#x2F;", "/")
            .contains("datapass.api.gouv.fr/instruction/demandes/601")
    );
    assert!(!page.contains("id=\"valider\""));
    let response = staff
        .post_form(
            &format!("/demandes/{id}/decision"),
            &[("action", "approve")],
        )
        .await;
    assert_eq!(response.status().as_u16(), 409);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("se prend sur DataPass")
    );
    assert_eq!(state_of(&app, 601).await, Some(("submitted".into(), false)));

    // The same request typed in by staff is decided here.
    typed_in_by_staff(&app, &id).await;
    let (status, page) = staff.get_text(&format!("/demandes/{id}")).await;
    assert_eq!(status, 200);
    for code in [
        "siret_valid",
        "sirene_active",
        "deliberation_present",
        "dpd_distinct",
        "contact_emails",
        "editeur_known",
    ] {
        assert!(page.contains(&format!("data-check=\"{code}\"")), "{code}");
    }
    assert!(page.contains("data-check=\"sirene_active\" data-status=\"unknown\""));
    assert!(page.contains("data-testid=\"deadline\""));

    // Request changes without a reason: refused, nothing changes.
    let response = staff
        .post_form(
            &format!("/demandes/{id}/decision"),
            &[("action", "request_changes"), ("reason", "  ")],
        )
        .await;
    assert_eq!(response.status().as_u16(), 400);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Un motif est obligatoire")
    );
    assert_eq!(
        state_by_id(&app, &id).await,
        Some(("submitted".into(), false))
    );

    // With a reason: changes requested, e-mail with the reason.
    let response = staff
        .post_form(
            &format!("/demandes/{id}/decision"),
            &[
                ("action", "request_changes"),
                ("reason", "Merci de joindre la délibération signée."),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(
        state_by_id(&app, &id).await,
        Some(("changes_requested".into(), false))
    );
    let mails: Vec<(String, String, String, String)> = app
        .with_conn(|conn| {
            outbox::table
                .order(outbox::created_at)
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
    assert!(mails[0].2.starts_with("Modifications demandées"));
    assert!(
        mails[0]
            .3
            .contains("Merci de joindre la délibération signée.")
    );

    // A second identical click: the transition is no longer possible, a clear 409.
    let response = staff
        .post_form(
            &format!("/demandes/{id}/decision"),
            &[("action", "request_changes"), ("reason", "encore")],
        )
        .await;
    assert_eq!(response.status().as_u16(), 409);

    // Approve (all checks pass but Sirene, which is unknown): token, HubEE, e-mail with the token.
    let response = staff
        .post_form(
            &format!("/demandes/{id}/decision"),
            &[("action", "approve")],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(
        state_by_id(&app, &id).await,
        Some(("validated".into(), false))
    );
    let token_id: String = app
        .with_conn(|conn| tokens::table.select(tokens::id).first(conn).unwrap())
        .await;
    let hubee: String = app
        .with_conn(|conn| {
            hubee_subscriptions::table
                .select(hubee_subscriptions::status)
                .first(conn)
                .unwrap()
        })
        .await;
    assert_eq!(hubee, "INACTIF");
    let last: (String, String, String) = app
        .with_conn(|conn| {
            outbox::table
                .order(outbox::created_at.desc())
                .select((outbox::cc_addresses, outbox::subject, outbox::text_body))
                .first(conn)
                .unwrap()
        })
        .await;
    assert_eq!(last.0, "api@mushroom-software.fr");
    assert!(last.1.starts_with("Habilitation validée"));
    assert!(last.2.contains(&token_id));
    let logged: Vec<String> = app
        .with_conn(|conn| {
            events::table
                .filter(events::actor.eq(DEMO_INSTRUCTEUR))
                .select(events::action)
                .load(conn)
                .unwrap()
        })
        .await;
    assert!(logged.contains(&"request.request_changes".to_owned()));
    assert!(logged.contains(&"request.approve".to_owned()));
}

#[tokio::test]
async fn approving_with_a_failed_check_needs_an_explicit_override() {
    let app = spawn().await;
    // The DPD is the demandeur under another case: the DPD check fails.
    let mut create = payload("create", 602, 1_790_000_000, SIRET);
    create["data"]["data"]["delegue_protection_donnees_email"] =
        serde_json::json!("MARIE.CURIE@saint-exemple.fr");
    deliver(&app, &create).await;
    let mut submit = payload("submit", 602, 1_790_000_060, SIRET);
    submit["data"]["data"]["delegue_protection_donnees_email"] =
        serde_json::json!("MARIE.CURIE@saint-exemple.fr");
    deliver(&app, &submit).await;
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
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let id: String = app
        .with_conn(|conn| {
            habilitation_requests::table
                .select(habilitation_requests::id)
                .first(conn)
                .unwrap()
        })
        .await;
    typed_in_by_staff(&app, &id).await;
    let (_, page) = staff.get_text(&format!("/demandes/{id}")).await;
    assert!(
        page.contains("data-check=\"dpd_distinct\" data-status=\"failed\""),
        "{page}"
    );

    let response = staff
        .post_form(
            &format!("/demandes/{id}/decision"),
            &[("action", "approve")],
        )
        .await;
    assert_eq!(response.status().as_u16(), 400);
    assert!(response.text().await.unwrap().contains("Passer outre"));
    // Ticking the box without a reason is not enough.
    let response = staff
        .post_form(
            &format!("/demandes/{id}/decision"),
            &[("action", "approve"), ("override_checks", "1")],
        )
        .await;
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(
        state_by_id(&app, &id).await,
        Some(("submitted".into(), false))
    );
    let tokens_count: i64 = app
        .with_conn(|conn| tokens::table.count().get_result(conn).unwrap())
        .await;
    assert_eq!(tokens_count, 0);

    let response = staff
        .post_form(
            &format!("/demandes/{id}/decision"),
            &[
                ("action", "approve"),
                ("override_checks", "1"),
                ("override_reason", "DPD mutualisé confirmé par téléphone"),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(
        state_by_id(&app, &id).await,
        Some(("validated".into(), false))
    );
    let details: Option<String> = app
        .with_conn(|conn| {
            events::table
                .filter(events::action.eq("request.approve"))
                .select(events::details)
                .first(conn)
                .unwrap()
        })
        .await;
    assert!(
        details
            .unwrap()
            .contains("DPD mutualisé confirmé par téléphone")
    );
}

pub fn tiny_pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec()
}

pub fn request_form(
    siret: &str,
    pdf: Option<(&str, Vec<u8>)>,
    url: &str,
) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new()
        .text("siret", siret.to_owned())
        .text("name", "Commune de Saint-Exemple")
        .text("cog", "69123")
        .text("postal_code", "69001")
        .text("form_uid", "formulaire-qf")
        .text("deliberation_url", url.to_owned())
        .text("purpose", "Tarification de la cantine")
        .text("demandeur_email", "Agent@Saint-Exemple.fr")
        .text("demandeur_given_name", "Léa")
        .text("demandeur_family_name", "Roux")
        .text("delegue_protection_donnees_email", "dpd@saint-exemple.fr");
    if let Some((name, bytes)) = pdf {
        form = form.part(
            "deliberation_file",
            reqwest::multipart::Part::bytes(bytes)
                .file_name(name.to_owned())
                .mime_str("application/pdf")
                .unwrap(),
        );
    }
    form
}

#[tokio::test]
async fn staff_type_in_requests_with_a_pdf_deliberation_checked_to_be_a_pdf() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let csrf = staff.csrf().await;
    let post = |form: reqwest::multipart::Form| {
        staff
            .client
            .post(format!(
                "{}/demandes/nouvelle?csrf_token={csrf}",
                app.address
            ))
            .multipart(form)
            .send()
    };
    let count = || async {
        app.with_conn(|conn| {
            habilitation_requests::table
                .count()
                .get_result::<i64>(conn)
                .unwrap()
        })
        .await
    };
    let before = count().await;

    // Not a PDF, too big, no délibération, bad SIRET: clear messages, nothing created.
    let response = post(request_form(
        SIRET,
        Some(("deliberation.pdf", b"GIF89a pas un pdf".to_vec())),
        "",
    ))
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("n&#x27;est pas un PDF")
    );
    let mut big = tiny_pdf();
    big.resize(10 * 1024 * 1024 + 10, b' ');
    let response = post(request_form(SIRET, Some(("grosse.pdf", big)), ""))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert!(response.text().await.unwrap().contains("dépasse 10 Mo"));
    let response = post(request_form(SIRET, None, "")).await.unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("La délibération est obligatoire")
    );
    let response = post(request_form(
        "21690123000019",
        Some(("d.pdf", tiny_pdf())),
        "",
    ))
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let page = response.text().await.unwrap();
    assert!(page.contains("clé de contrôle"), "{page}");
    assert!(
        page.contains("value=\"Tarification de la cantine\"")
            || page.contains("Tarification de la cantine"),
        "typed values kept"
    );
    assert_eq!(count().await, before);
    // Without the CSRF token in the query: refused.
    let response = staff
        .client
        .post(format!("{}/demandes/nouvelle", app.address))
        .multipart(request_form(SIRET, Some(("d.pdf", tiny_pdf())), ""))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);

    // A real PDF: created, submitted, in the queue, the file downloadable.
    let response = post(request_form(
        SIRET,
        Some(("délibération 2026.pdf", tiny_pdf())),
        "",
    ))
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let id = location.trim_start_matches("/demandes/").to_owned();
    assert_eq!(count().await, before + 1);
    let (_, page) = staff.get_text(&location).await;
    assert!(page.contains("data-check=\"deliberation_present\" data-status=\"passed\""));
    let file = staff.get(&format!("{location}/deliberation")).await;
    assert_eq!(file.status().as_u16(), 200);
    assert_eq!(file.headers()["content-type"], "application/pdf");
    assert_eq!(file.bytes().await.unwrap().to_vec(), tiny_pdf());
    let (_, queue) = staff.get_text("/instruction").await;
    assert!(queue.contains(&format!("data-request=\"{id}\"")));
    let stored: i64 = app
        .with_conn(|conn| deliberation_files::table.count().get_result(conn).unwrap())
        .await;
    assert_eq!(stored, 1);
    // An éditeur with no link to it gets a 404 for the file.
    let other = app.signed_in("equipe@arpege-citoyen.fr").await;
    assert_eq!(
        other
            .get(&format!("{location}/deliberation"))
            .await
            .status()
            .as_u16(),
        404
    );
}

#[tokio::test]
async fn staff_manage_reason_templates_and_use_them_in_decisions() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let (_, page) = staff.get_text("/modeles-de-motifs").await;
    assert!(page.contains("Délibération sans mention du QF"));
    let response = staff
        .post_form(
            "/modeles-de-motifs",
            &[("kind", "refuse"), ("title", ""), ("body", "x")],
        )
        .await;
    assert_eq!(response.status().as_u16(), 400);
    let response = staff
        .post_form(
            "/modeles-de-motifs",
            &[
                ("kind", "refuse"),
                ("title", "Hors périmètre"),
                ("body", "Votre structure n'est pas concernée."),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
    let template_id: String = app
        .with_conn(|conn| {
            reason_templates::table
                .filter(reason_templates::title.eq("Hors périmètre"))
                .select(reason_templates::id)
                .first(conn)
                .unwrap()
        })
        .await;
    // Refuse request 031 (typed in by staff) with the template only.
    typed_in_by_staff(&app, "demo-request-031").await;
    let response = staff
        .post_form(
            "/demandes/demo-request-031/decision",
            &[("action", "refuse"), ("template_id", &template_id)],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
    let (state, reason): (String, Option<String>) = app
        .with_conn(|conn| {
            habilitation_requests::table
                .find("demo-request-031")
                .select((
                    habilitation_requests::state,
                    habilitation_requests::last_reason,
                ))
                .first(conn)
                .unwrap()
        })
        .await;
    assert_eq!(state, "refused");
    assert_eq!(
        reason.as_deref(),
        Some("Votre structure n'est pas concernée.")
    );
    // Deleting asks for confirmation, then removes.
    let (status, confirm) = staff
        .get_text(&format!("/modeles-de-motifs/{template_id}/supprimer"))
        .await;
    assert_eq!(status, 200);
    assert!(confirm.contains("Hors périmètre"));
    let response = staff
        .post_form(&format!("/modeles-de-motifs/{template_id}/supprimer"), &[])
        .await;
    assert_eq!(response.status().as_u16(), 303);
    let left: i64 = app
        .with_conn(move |conn| {
            reason_templates::table
                .find(template_id)
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await;
    assert_eq!(left, 0);
}

#[tokio::test]
async fn a_collectivite_met_first_is_created_once_with_its_departement() {
    use qf_backoffice::models::collectivites::{NewCollectivite, find_or_create};
    let app = TestApp::spawn().await;
    let now = qf_backoffice::db::now();
    let new = |cog: &str| NewCollectivite {
        siret: "21974110000012".into(),
        name: "Commune de Saint-Pierre".into(),
        cog: Some(cog.to_owned()),
        postal_code: Some("97410".into()),
    };
    let (first, created) = app
        .with_conn(move |conn| find_or_create(conn, new("97416"), now).unwrap())
        .await;
    assert!(created);
    // Met again (another path, other facts): the same collectivité, unchanged.
    let (again, created_again) = app
        .with_conn(move |conn| find_or_create(conn, new("2A004"), now).unwrap())
        .await;
    assert_eq!(again, first);
    assert!(!created_again);
    let id = first.clone();
    let departement: Option<String> = app
        .with_conn(move |conn| {
            collectivites::table
                .find(id)
                .select(collectivites::departement)
                .first(conn)
                .unwrap()
        })
        .await;
    assert_eq!(departement.as_deref(), Some("974"));
}
