//! « Voir en tant que »: staff see a person's space with a banner, every action is refused by
//! the server and logged, and they come back to their own account.

use diesel::prelude::*;
use qf_backoffice::db::schema::{api_keys, events};
use qf_backoffice::demo::DEMO_INSTRUCTEUR;

use crate::helpers::TestApp;

#[tokio::test]
async fn staff_view_as_an_editeur_read_only_and_come_back() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let (_, person) = staff
        .get_text("/personnes/equipe@mushroom-software.fr")
        .await;
    assert!(person.contains("Voir en tant que"));
    let response = staff
        .post_form(
            "/voir-en-tant-que",
            &[("email", "equipe@mushroom-software.fr")],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);

    let (status, space) = staff.get_text("/editeur").await;
    assert_eq!(status, 200);
    assert!(space.contains("data-testid=\"view-as-banner\""));
    assert!(space.contains("equipe@mushroom-software.fr"));
    assert!(space.contains("Mushroom Software"));
    // Staff pages are not the éditeur's.
    assert_eq!(staff.get("/instruction").await.status().as_u16(), 403);

    // Every action is refused, whatever the route, and logged.
    let response = staff
        .post_form("/editeur/cles", &[("name", "Tentative")])
        .await;
    assert_eq!(response.status().as_u16(), 403);
    assert!(response.text().await.unwrap().contains("Lecture seule"));
    let response = staff
        .post_form("/admin/comptes/sessions/terminer", &[])
        .await;
    assert_eq!(response.status().as_u16(), 403);
    let keys: i64 = app
        .with_conn(|conn| api_keys::table.count().get_result(conn).unwrap())
        .await;
    assert_eq!(keys, 0);
    let logged: Vec<String> = app
        .with_conn(|conn| {
            events::table
                .filter(events::action.like("view_as.%"))
                .filter(events::actor.eq(DEMO_INSTRUCTEUR))
                .order(events::occurred_at.asc())
                .select(events::action)
                .load(conn)
                .unwrap()
        })
        .await;
    assert_eq!(
        logged,
        vec!["view_as.start", "view_as.refused", "view_as.refused"]
    );

    // Back to one's own account.
    let response = staff.post_form("/voir-en-tant-que/fin", &[]).await;
    assert_eq!(response.status().as_u16(), 303);
    let (status, page) = staff.get_text("/instruction").await;
    assert_eq!(status, 200);
    assert!(!page.contains("view-as-banner"));
    assert_eq!(staff.get("/editeur").await.status().as_u16(), 403);

    // Not for others; not as a staff member.
    let editeur = app.signed_in("equipe@mushroom-software.fr").await;
    let response = editeur
        .post_form(
            "/voir-en-tant-que",
            &[("email", "equipe@arpege-citoyen.fr")],
        )
        .await;
    assert_eq!(response.status().as_u16(), 403);
    let response = staff
        .post_form(
            "/voir-en-tant-que",
            &[("email", qf_backoffice::demo::DEMO_ADMIN)],
        )
        .await;
    assert_eq!(response.status().as_u16(), 400);
}

#[tokio::test]
async fn the_journal_filters_by_who_what_target_and_dates() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let response = staff
        .post_form(
            "/voir-en-tant-que",
            &[("email", "equipe@mushroom-software.fr")],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
    staff.post_form("/voir-en-tant-que/fin", &[]).await;
    let actions = |html: &str| -> Vec<String> {
        html.match_indices("<tr data-action=\"")
            .map(|(i, m)| {
                let rest = &html[i + m.len()..];
                rest[..rest.find('"').unwrap()].to_owned()
            })
            .collect()
    };
    let (status, html) = staff
        .get_text(&format!("/journal?qui={DEMO_INSTRUCTEUR}&quoi=view_as."))
        .await;
    assert_eq!(status, 200);
    assert_eq!(actions(&html), vec!["view_as.end", "view_as.start"]);
    let (_, html) = staff
        .get_text("/journal?quoi=view_as.&cible=mushroom")
        .await;
    assert_eq!(actions(&html).len(), 2);
    let (_, html) = staff.get_text("/journal?quoi=view_as.&cible=arpege").await;
    assert!(actions(&html).is_empty());
    let today = qf_backoffice::domain::calendar::paris_today();
    let (_, html) = staff
        .get_text(&format!("/journal?quoi=view_as.&du={today}&au={today}"))
        .await;
    assert_eq!(actions(&html).len(), 2);
    let tomorrow = today.succ_opt().unwrap();
    let (_, html) = staff
        .get_text(&format!("/journal?quoi=view_as.&du={tomorrow}"))
        .await;
    assert!(actions(&html).is_empty());
    let (status, html) = staff.get_text("/journal?du=31/12/2026").await;
    assert_eq!(status, 400);
    assert!(html.contains("AAAA-MM-JJ"));
}

#[tokio::test]
async fn the_journal_dates_are_days_in_paris() {
    let app = TestApp::spawn_with_demo().await;
    // 22:30 UTC on 14 July is 00:30 on 15 July in Paris.
    let at = chrono::NaiveDate::from_ymd_opt(2026, 7, 14)
        .unwrap()
        .and_hms_opt(22, 30, 0)
        .unwrap();
    app.with_conn(move |conn| {
        qf_backoffice::models::events::record(
            conn,
            at,
            "cli",
            "test.minuit",
            ("person", "minuit@ville.fr"),
            None,
        )
        .unwrap()
    })
    .await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let (_, html) = staff
        .get_text("/journal?quoi=test.minuit&du=2026-07-15&au=2026-07-15")
        .await;
    assert!(html.contains("data-action=\"test.minuit\""), "{html}");
    let html = html.replace("&#x2F;", "/");
    assert!(
        html.contains("15/07/2026 00:30:00"),
        "shown in Paris time: {html}"
    );
    let (_, html) = staff
        .get_text("/journal?quoi=test.minuit&du=2026-07-14&au=2026-07-14")
        .await;
    assert!(!html.contains("data-action=\"test.minuit\""), "{html}");
}
