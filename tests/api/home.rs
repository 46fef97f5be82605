//! The home page: layout, staff overview counts, collectivités search and pagination.

use diesel::prelude::*;
use qf_backoffice::db::schema::{collectivites, habilitation_requests};
use qf_backoffice::domain::request_state::RequestState;

use crate::helpers::{TestApp, count_in};

const STAFF: &str = qf_backoffice::demo::DEMO_INSTRUCTEUR;

#[tokio::test]
async fn home_page_uses_the_layout_in_french_and_stays_readable_without_dsfr() {
    let app = TestApp::spawn().await;
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
    let app_user = app.signed_in("agent@beta.gouv.fr").await;
    let (status, html) = app_user.get_text("/").await;
    assert_eq!(status, 200);
    assert!(html.contains("<html lang=\"fr\""));
    assert!(html.contains("class=\"fr-header\""));
    assert!(html.contains("Tableau de bord"));
    assert!(html.contains("/static/app.css"));
    // No DSFR unpacked in tests: the page does not link to it, and our own CSS carries it.
    assert!(!html.contains("/static/dsfr/dsfr.min.css"));
    assert!(html.contains("class=\"without-dsfr\""));
    assert!(html.contains("0 collectivité"));

    let css = app.get("/static/app.css").await;
    assert_eq!(css.status().as_u16(), 200);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(
        css.text()
            .await
            .unwrap()
            .contains(".without-dsfr .fr-header")
    );
}

#[tokio::test]
async fn overview_counts_requests_per_state() {
    let app = TestApp::spawn_with_demo().await;
    let mut conn = app.db.connect();
    let staff = app.signed_in(STAFF).await;
    let (_, html) = staff.get_text("/").await;
    for state in RequestState::ALL {
        let expected: i64 = habilitation_requests::table
            .filter(habilitation_requests::state.eq(state.as_str()))
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert!(expected > 0, "demo data has a request in state {state:?}");
        let shown = count_in(&html, &format!("data-state=\"{}\"", state.as_str()));
        assert_eq!(shown, Some(expected), "count for {state:?}");
    }
}

#[tokio::test]
async fn collectivites_are_searchable_by_name_siret_and_postal_code() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(STAFF).await;

    let (_, html) = staff.get_text("/?q=SAINT").await;
    assert!(html.contains("4 collectivités pour « SAINT »"), "{html}");
    assert!(html.contains("Saint-Malo"));
    assert!(!html.contains("Villeurbanne"));

    let mut conn = app.db.connect();
    let siret: String = collectivites::table
        .filter(collectivites::name.eq("Villeurbanne"))
        .select(collectivites::siret)
        .first(&mut conn)
        .unwrap();
    let spaced = format!("{} {} {}", &siret[..3], &siret[3..9], &siret[9..]);
    let (_, html) = staff
        .get_text(&format!("/?q={}", spaced.replace(' ', "+")))
        .await;
    assert!(html.contains("1 collectivité pour"), "{html}");
    assert!(html.contains("Villeurbanne"));

    let (_, html) = staff.get_text("/?q=35400").await;
    assert!(html.contains("Saint-Malo"));

    // Wildcards typed by the user are literal characters, not patterns.
    let (_, html) = staff.get_text("/?q=%25").await;
    assert!(html.contains("0 collectivité pour"), "{html}");
    let (_, html) = staff.get_text("/?q=_").await;
    assert!(html.contains("0 collectivité pour"), "{html}");
    assert!(html.contains("Aucune collectivité ne correspond"));
}

#[tokio::test]
async fn collectivites_are_paginated() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(STAFF).await;
    let (_, first) = staff.get_text("/").await;
    assert!(first.contains("50 collectivités"));
    assert!(first.contains("Page 1 sur 3"));
    let rows = |html: &str| {
        html.match_indices("data-siret=\"")
            .map(|(i, _)| html[i + 12..i + 26].to_owned())
            .collect::<Vec<_>>()
    };
    let (_, second) = staff.get_text("/?page=2").await;
    let (_, third) = staff.get_text("/?page=3").await;
    assert_eq!(rows(&first).len(), 20);
    assert_eq!(rows(&second).len(), 20);
    assert_eq!(rows(&third).len(), 10);
    assert!(rows(&first).iter().all(|s| !rows(&second).contains(s)));
    assert!(second.contains("Page 2 sur 3"));
    assert!(second.contains("href=\"/?q=&amp;page=3\""), "{second}");

    // Out of range or unreadable page numbers never fail.
    let (status, beyond) = staff.get_text("/?page=99").await;
    assert_eq!(status, 200);
    assert_eq!(rows(&beyond), rows(&third));
    let (status, junk) = staff.get_text("/?page=abc").await;
    assert_eq!(status, 200);
    assert_eq!(rows(&junk), rows(&first));
}

#[tokio::test]
async fn unknown_pages_get_a_french_404() {
    let app = TestApp::spawn().await;
    let (status, html) = app.get_text("/nulle-part").await;
    assert_eq!(status, 404);
    assert!(html.contains("Page introuvable"));
    let (status, _) = app.get_text("/static/absent.css").await;
    assert_eq!(status, 404);
    let (status, _) = app.get_text("/static/dsfr/../../Cargo.toml").await;
    assert_eq!(status, 404);
}
