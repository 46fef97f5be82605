//! Token pages and the prolongation form, over HTTP on the demo data.

use chrono::NaiveDate;
use diesel::prelude::*;
use qf_backoffice::db::schema::{events, habilitation_requests, outbox, request_contacts, tokens};
use qf_backoffice::demo::DEMO_INSTRUCTEUR;
use qf_backoffice::domain::token::{days_left, expiry_date};

use crate::helpers::TestApp;

/// Demo token ids: request index n has token `0d3e0000-0000-4000-8000-<n:012>`.
pub fn token_of(index: usize) -> String {
    format!("0d3e0000-0000-4000-8000-{index:012}")
}

pub async fn contact(app: &TestApp, request: &'static str, role: &'static str) -> String {
    app.with_conn(move |conn| {
        request_contacts::table
            .filter(request_contacts::request_id.eq(request))
            .filter(request_contacts::role.eq(role))
            .select(request_contacts::email)
            .first(conn)
            .unwrap()
    })
    .await
}

async fn expiry(app: &TestApp, token: &str) -> (NaiveDate, Option<NaiveDate>) {
    let token = token.to_owned();
    app.with_conn(move |conn| {
        tokens::table
            .find(token)
            .select((tokens::expires_on, tokens::next_reminder_on))
            .first(conn)
            .unwrap()
    })
    .await
}

#[tokio::test]
async fn staff_list_tokens_with_filters_urgency_and_expiries_per_month() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let today = qf_backoffice::domain::calendar::paris_today();
    let rows: Vec<(NaiveDate, bool)> = app
        .with_conn(|conn| {
            tokens::table
                .select((tokens::expires_on, tokens::revoked_at.is_not_null()))
                .load(conn)
                .unwrap()
        })
        .await;
    let count = |f: &dyn Fn(i64, bool) -> bool| {
        rows.iter()
            .filter(|(e, r)| f(days_left(*e, today), *r))
            .count()
    };
    let total = |html: &str| -> usize {
        let start = html.find("data-testid=\"tokens-total\">").unwrap() + 27;
        html[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    for (query, expected) in [
        ("fenetre=90", count(&|d, r| !r && (0..=90).contains(&d))),
        ("fenetre=30", count(&|d, r| !r && (0..=30).contains(&d))),
        ("fenetre=7", count(&|d, r| !r && (0..=7).contains(&d))),
        ("statut=expired", count(&|d, r| !r && d < 0)),
        ("statut=revoked", count(&|_, r| r)),
    ] {
        let (status, html) = staff.get_text(&format!("/jetons?{query}")).await;
        assert_eq!(status, 200);
        assert_eq!(total(&html), expected, "{query}");
        assert!(expected > 0, "demo data covers {query}");
    }
    // Red under 30 days, orange under 90.
    let (_, html) = staff.get_text("/jetons?fenetre=7").await;
    assert!(html.contains("data-urgency=\"red\""));
    assert!(!html.contains("data-urgency=\"orange\""));
    let (_, html) = staff.get_text("/jetons?fenetre=90").await;
    assert!(html.contains("data-urgency=\"orange\""));
    let (_, html) = staff.get_text("/jetons?editeur=demo-editeur-000").await;
    assert!(html.contains(&token_of(0)));
    assert!(
        !html.contains(&token_of(1)),
        "token 1 belongs to another éditeur"
    );

    // Month by month: 18 months, summing to the active tokens expiring in that span.
    let (_, html) = staff.get_text("/jetons").await;
    let months = html.matches("data-month=\"").count();
    assert_eq!(months, 18);
    let sum: usize = html
        .match_indices("class=\"count\">")
        .map(|(i, _)| {
            let rest = &html[i + 14..];
            rest[..rest.find('<').unwrap()].parse::<usize>().unwrap()
        })
        .sum();
    let horizon = chrono::Datelike::with_day(&today, 1)
        .unwrap()
        .checked_add_months(chrono::Months::new(18))
        .unwrap();
    let expected = rows
        .iter()
        .filter(|(e, r)| !r && *e >= today && *e < horizon)
        .count();
    assert_eq!(sum, expected);
}

#[tokio::test]
async fn staff_revoke_a_token_with_a_reason_and_the_demandeur_is_told() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let token = token_of(2);
    let (status, page) = staff.get_text(&format!("/jetons/{token}/revoquer")).await;
    assert_eq!(status, 200);
    assert!(page.contains("Confirmer la révocation"));
    let response = staff
        .post_form(&format!("/jetons/{token}/revoquer"), &[("reason", " ")])
        .await;
    assert_eq!(response.status().as_u16(), 400);
    assert!(expiry(&app, &token).await.1.is_some(), "nothing changed");

    let response = staff
        .post_form(
            &format!("/jetons/{token}/revoquer"),
            &[("reason", "Changement de logiciel confirmé par la mairie.")],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
    let (revoked, next): (bool, Option<NaiveDate>) = app
        .with_conn(|conn| {
            tokens::table
                .find(token_of(2))
                .select((tokens::revoked_at.is_not_null(), tokens::next_reminder_on))
                .first(conn)
                .unwrap()
        })
        .await;
    assert!(revoked);
    assert_eq!(next, None, "a revoked token gets no reminder");
    let demandeur = contact(&app, "demo-request-002", "demandeur").await;
    let technique = contact(&app, "demo-request-002", "contact_technique").await;
    let mail: (String, String, String) = app
        .with_conn(|conn| {
            outbox::table
                .filter(outbox::template.eq("token_revoked"))
                .select((
                    outbox::to_addresses,
                    outbox::cc_addresses,
                    outbox::text_body,
                ))
                .first(conn)
                .unwrap()
        })
        .await;
    assert_eq!(mail.0, demandeur);
    assert_eq!(mail.1, technique);
    assert!(
        mail.2
            .contains("Changement de logiciel confirmé par la mairie.")
    );
    let (_, page) = staff.get_text(&format!("/jetons/{token}")).await;
    assert!(page.contains("Révoqué"));
}

#[tokio::test]
async fn the_demandeur_prolongs_an_unchanged_token_by_18_months_and_keeps_its_id() {
    let app = TestApp::spawn_with_demo().await;
    // Request 001 (Villeurbanne): 80 days left.
    let token = token_of(1);
    let demandeur = contact(&app, "demo-request-001", "demandeur").await;
    let metier = contact(&app, "demo-request-001", "contact_metier").await;
    let technique = contact(&app, "demo-request-001", "contact_technique").await;

    let user = app.signed_in(&demandeur).await;
    let (_, home) = user.get_text("/").await;
    assert!(home.contains("Jeton expire dans 80 jours"), "{home}");
    assert!(home.contains(&format!(
        "/jetons/{token}/prolongation\" data-testid=\"prolong-link\""
    )));
    let (status, form) = user
        .get_text(&format!("/jetons/{token}/prolongation"))
        .await;
    assert_eq!(status, 200);
    assert!(form.contains("id=\"prolongation\""));

    // Another contact of the same request sees who can do it, and cannot.
    let other = app.signed_in(&metier).await;
    let (status, page) = other
        .get_text(&format!("/jetons/{token}/prolongation"))
        .await;
    assert_eq!(status, 200);
    assert!(!page.contains("id=\"prolongation\""));
    assert!(page.contains(&demandeur));
    let response = other
        .post_form(
            &format!("/jetons/{token}/prolongation"),
            &[
                ("collectivite", "oui"),
                ("finalite", "oui"),
                ("contacts", "oui"),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 403);
    assert!(response.text().await.unwrap().contains("Seul le demandeur"));

    // Missing answers: nothing happens.
    let before = expiry(&app, &token).await;
    let response = user
        .post_form(
            &format!("/jetons/{token}/prolongation"),
            &[("collectivite", "oui")],
        )
        .await;
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(expiry(&app, &token).await, before);

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
    assert_eq!(response.status().as_u16(), 303);
    let today = qf_backoffice::domain::calendar::paris_today();
    let (new_expiry, next) = expiry(&app, &token).await;
    assert_eq!(new_expiry, expiry_date(today));
    assert_eq!(
        next,
        qf_backoffice::domain::reminders::next_due_on(new_expiry, None),
        "a new reminder series"
    );
    let (_, done) = user
        .get_text(response.headers()["location"].to_str().unwrap())
        .await;
    // Tera escapes `/` in HTML.
    assert!(
        done.contains(&new_expiry.format("%d&#x2F;%m&#x2F;%Y").to_string()),
        "{done}"
    );
    // A second click changes nothing.
    let again = user
        .post_form(
            &format!("/jetons/{token}/prolongation"),
            &[
                ("collectivite", "oui"),
                ("finalite", "oui"),
                ("contacts", "oui"),
            ],
        )
        .await;
    assert_eq!(again.status().as_u16(), 303);
    assert_eq!(expiry(&app, &token).await.0, new_expiry);

    let mails: Vec<(String, String, String)> = app
        .with_conn(|conn| {
            outbox::table
                .filter(outbox::template.eq("token_prolonged"))
                .select((outbox::to_addresses, outbox::cc_addresses, outbox::subject))
                .load(conn)
                .unwrap()
        })
        .await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].0, demandeur);
    assert_eq!(mails[0].1, technique);
    assert!(
        mails[0]
            .2
            .contains(&new_expiry.format("%d/%m/%Y").to_string())
    );
    let logged: i64 = app
        .with_conn(|conn| {
            events::table
                .filter(events::action.eq("token.prolong"))
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await;
    assert_eq!(logged, 1);
}

#[tokio::test]
async fn a_prolongation_with_changes_of_a_request_typed_in_by_staff_becomes_a_priority_modification_request()
 {
    let app = TestApp::spawn_with_demo().await;
    // Request 002 (Montreuil): 25 days left; typed in by staff, so modified here.
    crate::instruction::typed_in_by_staff(&app, "demo-request-002").await;
    let token = token_of(2);
    let before = expiry(&app, &token).await.0;
    let demandeur = contact(&app, "demo-request-002", "demandeur").await;
    let user = app.signed_in(&demandeur).await;
    let response = user
        .post_form(
            &format!("/jetons/{token}/prolongation"),
            &[
                ("collectivite", "oui"),
                ("finalite", "non"),
                ("contacts", "oui"),
                ("changements", ""),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 400, "what changed is required");
    let response = user
        .post_form(
            &format!("/jetons/{token}/prolongation"),
            &[
                ("collectivite", "oui"),
                ("finalite", "non"),
                ("contacts", "oui"),
                (
                    "changements",
                    "Nouvelle délibération du 3 mars : https://montreuil.fr/qf.pdf",
                ),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
    let (state, reopening, note): (String, bool, Option<String>) = app
        .with_conn(|conn| {
            habilitation_requests::table
                .find("demo-request-002")
                .select((
                    habilitation_requests::state,
                    habilitation_requests::reopening,
                    habilitation_requests::last_reason,
                ))
                .first(conn)
                .unwrap()
        })
        .await;
    assert_eq!((state.as_str(), reopening), ("submitted", true));
    assert!(note.unwrap().contains("Nouvelle délibération du 3 mars"));
    assert_eq!(expiry(&app, &token).await.0, before, "not prolonged yet");

    // It is ahead of new requests in the queue; its approval prolongs the same token.
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let (_, queue) = staff.get_text("/instruction").await;
    let first_two: Vec<&str> = queue
        .match_indices("data-request=\"")
        .take(2)
        .map(|(i, _)| &queue[i + 14..i + 30])
        .collect();
    assert!(first_two.contains(&"demo-request-002"), "{first_two:?}");
    let response = staff
        .post_form(
            "/demandes/demo-request-002/decision",
            &[
                ("action", "approve"),
                ("override_checks", "1"),
                ("override_reason", "démo"),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
    let today = qf_backoffice::domain::calendar::paris_today();
    assert_eq!(expiry(&app, &token).await.0, expiry_date(today));
    let count: i64 = app
        .with_conn(|conn| {
            tokens::table
                .filter(tokens::collectivite_id.eq("demo-collectivite-002"))
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await;
    assert_eq!(count, 1, "the token kept its id");
}

#[tokio::test]
async fn prolongation_is_offered_only_from_90_days_before_expiry() {
    let app = TestApp::spawn_with_demo().await;
    // Request 000: 547 days left.
    let demandeur = contact(&app, "demo-request-000", "demandeur").await;
    let user = app.signed_in(&demandeur).await;
    let (_, page) = user
        .get_text(&format!("/jetons/{}/prolongation", token_of(0)))
        .await;
    assert!(page.contains("sera possible à partir du"));
    assert!(!page.contains("id=\"prolongation\""));
    let before = expiry(&app, &token_of(0)).await;
    let response = user
        .post_form(
            &format!("/jetons/{}/prolongation", token_of(0)),
            &[
                ("collectivite", "oui"),
                ("finalite", "oui"),
                ("contacts", "oui"),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(expiry(&app, &token_of(0)).await, before);
    // After expiry it is offered again (request 004: expired 12 days ago).
    let demandeur = contact(&app, "demo-request-004", "demandeur").await;
    let user = app.signed_in(&demandeur).await;
    let (_, page) = user
        .get_text(&format!("/jetons/{}/prolongation", token_of(4)))
        .await;
    assert!(page.contains("a expiré il y a 12 jours"), "{page}");
    assert!(page.contains("id=\"prolongation\""));
}
