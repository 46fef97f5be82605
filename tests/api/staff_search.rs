//! Staff search: D-number, SIRET, collectivité name, contact e-mail and name, éditeur, token id;
//! ranked with exact identifiers first; staff only.

use diesel::prelude::*;
use qf_backoffice::db::schema::{collectivites, habilitation_requests, request_contacts};
use qf_backoffice::demo::DEMO_INSTRUCTEUR;

use crate::helpers::TestApp;

/// (kind, href) of the results, in order.
fn hits(html: &str) -> Vec<(String, String)> {
    let html = html.replace("&#x2F;", "/");
    html.split("<li data-kind=\"")
        .skip(1)
        .map(|part| {
            let kind = part[..part.find('"').unwrap()].to_owned();
            let href_at = part.find("href=\"").unwrap() + 6;
            let href = part[href_at..href_at + part[href_at..].find('"').unwrap()].to_owned();
            (kind, href)
        })
        .collect()
}

#[tokio::test]
async fn staff_find_requests_tokens_collectivites_editeurs_and_people_ranked() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let (datapass_id, siret, collectivite_id, name, email, family): (
        i64,
        String,
        String,
        String,
        String,
        String,
    ) = app
        .with_conn(|conn| {
            let (d, s, c, n): (Option<i64>, String, String, String) = habilitation_requests::table
                .inner_join(collectivites::table)
                .filter(habilitation_requests::id.eq("demo-request-001"))
                .select((
                    habilitation_requests::datapass_id,
                    collectivites::siret,
                    collectivites::id,
                    collectivites::name,
                ))
                .first(conn)
                .unwrap();
            let (e, f): (String, Option<String>) = request_contacts::table
                .filter(request_contacts::request_id.eq("demo-request-001"))
                .filter(request_contacts::role.eq("demandeur"))
                .select((request_contacts::email, request_contacts::family_name))
                .first(conn)
                .unwrap();
            (d.unwrap(), s, c, n, e, f.unwrap_or_default())
        })
        .await;

    let (status, html) = staff
        .get_text(&format!("/recherche?q=D{datapass_id}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        hits(&html).first(),
        Some(&(
            "demande".to_owned(),
            "/demandes/demo-request-001".to_owned()
        ))
    );

    let (_, html) = staff.get_text(&format!("/recherche?q={siret}")).await;
    let found = hits(&html);
    assert_eq!(
        found.first(),
        Some(&(
            "collectivite".to_owned(),
            format!("/collectivites/{collectivite_id}")
        ))
    );
    assert!(found.iter().any(|(k, _)| k == "demande"));
    assert!(found.iter().any(|(k, _)| k == "jeton"));

    let (_, html) = staff.get_text(&format!("/recherche?q={email}")).await;
    let found = hits(&html);
    assert!(found.contains(&(
        "demande".to_owned(),
        "/demandes/demo-request-001".to_owned()
    )));
    assert!(found.contains(&("personne".to_owned(), format!("/personnes/{email}"))));

    if !family.is_empty() {
        let (_, html) = staff.get_text(&format!("/recherche?q={family}")).await;
        assert!(hits(&html).iter().any(|(k, _)| k == "demande"), "{family}");
    }

    // A name prefix ranks above a name merely containing the text.
    let (_, html) = staff
        .get_text(&format!("/recherche?q={}", &name[..5]))
        .await;
    let found = hits(&html);
    assert!(found.contains(&(
        "collectivite".to_owned(),
        format!("/collectivites/{collectivite_id}")
    )));
    let (_, html) = staff.get_text("/recherche?q=mushroom").await;
    assert!(hits(&html).iter().any(|(k, _)| k == "editeur"));
    let token = crate::tokens::token_of(1);
    let (_, html) = staff.get_text(&format!("/recherche?q={token}")).await;
    assert_eq!(
        hits(&html).first(),
        Some(&("jeton".to_owned(), format!("/jetons/{token}")))
    );
    // Nothing found, hostile text: a clear page.
    let (status, html) = staff.get_text("/recherche?q=%25_%5C%27zzz").await;
    assert_eq!(status, 200);
    assert!(html.contains("Aucun résultat"));

    // Not for éditeurs.
    let editeur = app.signed_in("equipe@mushroom-software.fr").await;
    assert_eq!(editeur.get("/recherche?q=a").await.status().as_u16(), 403);
}

#[tokio::test]
async fn the_dashboard_draws_its_charts_on_the_server() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let (status, html) = staff.get_text("/tableau-de-bord").await;
    assert_eq!(status, 200);
    for chart in [
        "chart-expiries",
        "chart-weeks",
        "chart-delay",
        "chart-editeurs",
    ] {
        assert!(
            html.contains(&format!("data-testid=\"{chart}\"")),
            "{chart}"
        );
    }
    assert_eq!(html.matches("<svg").count(), 4);
    // 18 monthly bars; the target line at 3 business days.
    let expiries = &html[html.find("chart-expiries").unwrap()..html.find("chart-weeks").unwrap()];
    assert_eq!(expiries.matches("<rect").count(), 18);
    assert!(html.contains("data-target=\"3\""));
    // The demo's expiring tokens show up in the monthly bars.
    let total: i64 = expiries
        .match_indices("data-value=\"")
        .map(|(i, m)| {
            let rest = &expiries[i + m.len()..];
            rest[..rest.find('"').unwrap()].parse::<i64>().unwrap()
        })
        .sum();
    assert!(total > 0);
    assert!(html.contains("Mushroom Software"));
    assert!(!html.contains("<script>"));
    assert!(!html.contains("style=\""));
}

#[tokio::test]
async fn the_dashboard_counts_each_editeurs_clients_by_request_or_by_form() {
    let app = TestApp::spawn_with_demo().await;
    let (figures, expected) = app
        .with_conn(|conn| {
            use qf_backoffice::db::schema::{editeur_forms, editeurs};
            let today = qf_backoffice::db::now().date();
            let figures = qf_backoffice::models::dashboard::figures(conn, today).unwrap();
            // The rule, written the slow and obvious way: distinct collectivités whose request
            // names the éditeur or uses one of its pre-filled forms.
            let mut expected = Vec::new();
            let all: Vec<(String, String)> = editeurs::table
                .select((editeurs::id, editeurs::name))
                .load(conn)
                .unwrap();
            for (id, name) in all {
                let forms: Vec<String> = editeur_forms::table
                    .filter(editeur_forms::editeur_id.eq(&id))
                    .select(editeur_forms::form_uid)
                    .load(conn)
                    .unwrap();
                let mut clients: Vec<String> = habilitation_requests::table
                    .filter(
                        habilitation_requests::editeur_id
                            .eq(&id)
                            .or(habilitation_requests::form_uid.eq_any(&forms)),
                    )
                    .select(habilitation_requests::collectivite_id)
                    .load(conn)
                    .unwrap();
                clients.sort();
                clients.dedup();
                if !clients.is_empty() {
                    expected.push((name, clients.len() as i64));
                }
            }
            (figures, expected)
        })
        .await;
    let mut shown: Vec<(String, i64)> = figures
        .editeurs
        .iter()
        .map(|(name, n, _)| (name.clone(), *n))
        .collect();
    shown.sort();
    let mut expected = expected;
    expected.sort();
    assert!(!expected.is_empty());
    assert_eq!(shown, expected);
}
