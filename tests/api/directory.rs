//! Collectivités and éditeurs management: lists, search, filters and pagination, detail
//! pages, editing (nothing changed on bad input), the CSV import (page and command line),
//! éditeur creation and pre-filled forms.

use std::process::Command;

use diesel::prelude::*;
use qf_backoffice::db::schema::{
    collectivites, editeur_forms, editeurs, events, habilitation_requests,
};
use qf_backoffice::demo::{DEMO_ADMIN, DEMO_INSTRUCTEUR};
use qf_backoffice::domain::siret::with_check_digit;
use qf_backoffice::models::collectivites::Collectivite;
use qf_backoffice::models::editeurs::Editeur;

use crate::helpers::{TestApp, TestDb, Visitor, count_in};

/// The HTML of the table row carrying `attr` (e.g. `data-rejected-line="5"`).
fn row<'a>(html: &'a str, attr: &str) -> &'a str {
    let start = html
        .find(attr)
        .unwrap_or_else(|| panic!("no row {attr} in {html}"));
    let rest = &html[start..];
    &rest[..rest.find("</tr>").unwrap_or(rest.len())]
}

/// `text` as the templates write it (Tera escapes `/` too).
fn esc(text: &str) -> String {
    tera::escape_html(text)
}

/// Number of list rows carrying `attr` (e.g. `data-collectivite="`).
fn rows(html: &str, attr: &str) -> usize {
    html.matches(attr).count()
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn collectivite(app: &TestApp, id: &'static str) -> Collectivite {
    app.with_conn(move |conn| {
        collectivites::table
            .find(id)
            .select(Collectivite::as_select())
            .first(conn)
            .unwrap()
    })
    .await
}

async fn event_count(app: &TestApp, action: &'static str) -> i64 {
    app.with_conn(move |conn| {
        events::table
            .filter(events::action.eq(action))
            .count()
            .get_result(conn)
            .unwrap()
    })
    .await
}

/// Uploads `bytes` as the import form's file, with the session's CSRF token in the query.
async fn upload(visitor: &Visitor, name: &str, bytes: Vec<u8>) -> (u16, String) {
    let token = visitor.csrf().await;
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str("text/csv")
        .unwrap();
    let form = reqwest::multipart::Form::new().part("fichier", part);
    let response = visitor
        .client
        .post(format!(
            "{}/collectivites/import?csrf_token={token}",
            visitor.address
        ))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn collectivites_list_searches_filters_and_paginates() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;

    let (status, html) = staff.get_text("/collectivites").await;
    assert_eq!(status, 200);
    assert!(html.contains("href=\"/collectivites\" aria-current=\"page\""));
    assert!(html.contains("50 collectivités"), "{html}");
    assert_eq!(rows(&html, "data-collectivite=\""), 20);
    assert!(html.contains("Page 1 sur 3"));
    let (_, last) = staff.get_text("/collectivites?page=3").await;
    assert_eq!(rows(&last, "data-collectivite=\""), 10);
    assert!(last.contains("Page 3 sur 3"));
    // Unreadable or out-of-range pages fall back to the first or the last.
    let (status, _) = staff.get_text("/collectivites?page=abc").await;
    assert_eq!(status, 200);
    let (_, past) = staff.get_text("/collectivites?page=99").await;
    assert!(past.contains("Page 3 sur 3"));

    let villeurbanne = collectivite(&app, "demo-collectivite-001").await;
    for q in [
        "villeurb".to_owned(),
        villeurbanne.siret.clone(),
        "69100".to_owned(),
        "69266".to_owned(),
    ] {
        let (_, html) = staff.get_text(&format!("/collectivites?q={q}")).await;
        assert_eq!(rows(&html, "data-collectivite=\""), 1, "{q}");
        assert!(html.contains("data-collectivite=\"demo-collectivite-001\""));
        assert!(html.contains("href=\"/collectivites/demo-collectivite-001\""));
    }

    // Département 35: Saint-Malo, Fougères and the Pays de Fougères.
    let (_, html) = staff.get_text("/collectivites?departement=35").await;
    assert_eq!(rows(&html, "data-collectivite=\""), 3, "{html}");
    assert!(html.contains("3 collectivités"));
    assert!(html.contains("<option value=\"35\" selected>"));
    // The one inactive collectivité, and the département 40 ones still active.
    let (_, html) = staff.get_text("/collectivites?statut=inactives").await;
    assert_eq!(rows(&html, "data-collectivite=\""), 1);
    assert!(html.contains("data-collectivite=\"demo-collectivite-049\""));
    let (_, html) = staff
        .get_text("/collectivites?departement=40&statut=actives")
        .await;
    assert_eq!(rows(&html, "data-collectivite=\""), 1);
    assert!(html.contains("Dax"));
    assert!(!html.contains("demo-collectivite-049"));
    // Pagination keeps the filters.
    let (_, html) = staff.get_text("/collectivites?statut=actives&q=").await;
    assert!(html.contains("49 collectivités"));
    assert!(
        html.contains("href=\"/collectivites?q=&amp;departement=&amp;statut=actives&amp;page=2\""),
        "{html}"
    );
    // Nothing found is said so.
    let (_, html) = staff.get_text("/collectivites?q=introuvable").await;
    assert!(html.contains("Aucune collectivité ne correspond"));
}

#[tokio::test]
async fn collectivite_page_shows_requests_tokens_and_hubee_subscription() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_ADMIN).await;

    // Chatillon-en-Bois: a validated request, a fresh token, an inactive subscription (API).
    let (status, html) = staff.get_text("/collectivites/demo-collectivite-000").await;
    assert_eq!(status, 200);
    let c = collectivite(&app, "demo-collectivite-000").await;
    assert!(html.contains(&c.siret));
    assert!(html.contains("26079") && html.contains("26410"));
    let request = row(&html, "data-request=\"demo-request-000\"");
    assert!(request.contains("href=\"/demandes/demo-request-000\""));
    assert!(request.contains("D12000"));
    assert!(request.contains("Validée"));
    let token = row(&html, "data-token=\"0d3e0000-0000-4000-8000-000000000000\"");
    assert!(token.contains("Actif"), "{token}");
    assert!(token.contains("expire dans 547 jours"), "{token}");
    assert!(html.contains("data-testid=\"hubee-status\">Inactif<"));
    assert!(html.contains("API (logiciel de l"));
    assert!(html.contains("Unitaire"));
    assert!(html.contains("Non activé"));

    // Saint-Malo (index 3): a token 3 days from expiry, an active subscription on the portal.
    let (_, html) = staff.get_text("/collectivites/demo-collectivite-003").await;
    let token = row(&html, "data-token=\"0d3e0000-0000-4000-8000-000000000003\"");
    assert!(token.contains("Expire bientôt") && token.contains("expire dans 3 jours"));
    assert!(
        html.contains("data-testid=\"hubee-status\">Actif<"),
        "{html}"
    );
    assert!(html.contains("Portail HubEE"));
    let activation: chrono::NaiveDate = app
        .with_conn(|conn| {
            qf_backoffice::db::schema::hubee_subscriptions::table
                .filter(
                    qf_backoffice::db::schema::hubee_subscriptions::collectivite_id
                        .eq("demo-collectivite-003"),
                )
                .select(qf_backoffice::db::schema::hubee_subscriptions::activation_date)
                .first::<Option<chrono::NaiveDate>>(conn)
                .unwrap()
                .unwrap()
        })
        .await;
    assert!(html.contains(&esc(&activation.format("%d/%m/%Y").to_string())));

    // A revoked token (index 46) says so.
    let (_, html) = staff.get_text("/collectivites/demo-collectivite-046").await;
    assert!(row(&html, "data-token=\"0d3e0000-0000-4000-8000-000000000046\"").contains("Révoqué"));
    assert!(html.contains("Révoquée"));

    // No request, no token, no subscription.
    let (_, html) = staff.get_text("/collectivites/demo-collectivite-048").await;
    assert!(html.contains("Aucune demande d"));
    assert!(html.contains("Aucun jeton émis"));
    assert!(html.contains("Aucun abonnement"));

    assert_eq!(
        staff.get("/collectivites/inconnue").await.status().as_u16(),
        404
    );
    assert_eq!(
        staff
            .get("/collectivites/inconnue/modifier")
            .await
            .status()
            .as_u16(),
        404
    );
}

#[tokio::test]
async fn editing_a_collectivite_checks_every_field_and_changes_nothing_on_error() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let path = "/collectivites/demo-collectivite-000/modifier";
    let before = collectivite(&app, "demo-collectivite-000").await;

    let (status, html) = staff.get_text(path).await;
    assert_eq!(status, 200);
    assert!(html.contains("value=\"Chatillon-en-Bois\""));
    assert!(html.contains("value=\"26079\""));
    assert!(html.contains("<option value=\"commune\" selected>"));
    assert!(html.contains("id=\"active\" name=\"active\" value=\"on\" checked"));
    assert!(html.contains("name=\"csrf_token\""));

    let response = staff
        .post_form(
            path,
            &[
                ("name", "  "),
                ("kind", "ville"),
                ("cog", "2C004"),
                ("postal_code", "2641"),
                ("departement", "999"),
                ("active", "on"),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 400);
    let html = response.text().await.unwrap();
    for message in [
        "Le nom est obligatoire.",
        "Type inconnu",
        "Code commune (COG) « 2C004 » invalide",
        "Code postal « 2641 » invalide : 5 chiffres attendus",
        "Département « 999 » invalide",
    ] {
        assert!(html.contains(message), "{message}: {html}");
    }
    // The typed values are kept.
    assert!(html.contains("value=\"2641\""));
    assert!(html.contains("value=\"2C004\""));
    let after = collectivite(&app, "demo-collectivite-000").await;
    assert_eq!(after.name, before.name);
    assert_eq!(after.postal_code, before.postal_code);
    assert_eq!(after.updated_at, before.updated_at);
    assert_eq!(event_count(&app, "collectivite.update").await, 0);

    // Valid: the département follows the COG when left empty; the SIRET cannot change.
    let response = staff
        .post_form(
            path,
            &[
                ("name", " Châtillon-en-Bois "),
                ("kind", "autre"),
                ("cog", "2a004"),
                ("postal_code", "20000"),
                ("departement", ""),
                ("siret", "21075000000015"),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(
        location(&response),
        "/collectivites/demo-collectivite-000?succes=modifiee"
    );
    let after = collectivite(&app, "demo-collectivite-000").await;
    assert_eq!(after.name, "Châtillon-en-Bois");
    assert_eq!(after.kind, "autre");
    assert_eq!(after.cog.as_deref(), Some("2A004"));
    assert_eq!(after.postal_code.as_deref(), Some("20000"));
    assert_eq!(after.departement.as_deref(), Some("2A"));
    assert!(!after.active);
    assert!(!after.had_hubee_account);
    assert_eq!(after.siret, before.siret);
    let details: Vec<(String, Option<String>)> = app
        .with_conn(|conn| {
            events::table
                .filter(events::action.eq("collectivite.update"))
                .select((events::actor, events::details))
                .load(conn)
                .unwrap()
        })
        .await;
    assert_eq!(details.len(), 1);
    assert_eq!(details[0].0, DEMO_INSTRUCTEUR);
    let text = details[0].1.clone().unwrap();
    assert!(
        text.contains("nom : « Chatillon-en-Bois » → « Châtillon-en-Bois »"),
        "{text}"
    );
    assert!(text.contains("active : oui → non"), "{text}");
    let (_, page) = staff
        .get_text("/collectivites/demo-collectivite-000?succes=modifiee")
        .await;
    assert!(page.contains("Modifications enregistrées."));
    assert!(page.contains("Inactive"));

    // Empty optional fields clear them; the same values twice log nothing more.
    let fields = [
        ("name", "Châtillon-en-Bois"),
        ("kind", "commune"),
        ("cog", ""),
        ("postal_code", ""),
        ("departement", ""),
        ("active", "on"),
    ];
    for _ in 0..2 {
        let response = staff.post_form(path, &fields).await;
        assert_eq!(response.status().as_u16(), 303);
    }
    let after = collectivite(&app, "demo-collectivite-000").await;
    assert_eq!(
        (after.cog, after.postal_code, after.departement),
        (None, None, None)
    );
    assert!(after.active);
    assert_eq!(event_count(&app, "collectivite.update").await, 2);

    let response = staff
        .post_form("/collectivites/inconnue/modifier", &fields)
        .await;
    assert_eq!(response.status().as_u16(), 404);
}

#[tokio::test]
async fn csv_import_through_the_page_reports_every_line() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;

    let (status, html) = staff.get_text("/collectivites/import").await;
    assert_eq!(status, 200);
    assert!(html.contains("enctype=\"multipart/form-data\""));
    assert!(html.contains("action=\"/collectivites/import?csrf_token="));
    assert!(html.contains("name=\"fichier\""));

    let villeurbanne = collectivite(&app, "demo-collectivite-001").await;
    let montreuil = collectivite(&app, "demo-collectivite-002").await;
    let new_a = "21075000000015";
    let corse = with_check_digit("2120004000001").unwrap();
    let reunion = with_check_digit("2197411000001").unwrap();
    let csv = format!(
        "\u{feff}siret;nom;cog;code_postal\r\n\
         {new_a};Nouvelle-Commune;75056;75001\r\n\
         {};Villeurbanne-la-Grande;69266;69100\r\n\
         {};Montreuil;93048;93100\r\n\
         21075000000016;Mauvaise clé;26079;26410\r\n\
         21075000000023;;26079;26410\r\n\
         21075000000031;Code postal faux;26079;264\r\n\
         {new_a};Doublon;75056;75001\r\n\
         {corse};Ajaccio;2A004;20000\r\n\
         {reunion};Saint-Denis;97411;97400\r\n",
        villeurbanne.siret, montreuil.siret
    );
    let (status, html) = upload(&staff, "communes.csv", csv.into_bytes()).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("communes.csv"));
    assert_eq!(count_in(&html, "data-testid=\"created-count\""), Some(3));
    assert_eq!(count_in(&html, "data-testid=\"updated-count\""), Some(1));
    assert_eq!(count_in(&html, "data-testid=\"unchanged-count\""), Some(1));
    assert_eq!(count_in(&html, "data-testid=\"rejected-count\""), Some(4));
    assert!(html.contains("9 lignes lues"));
    for (line, reason) in [
        (
            5,
            "SIRET invalide : La clé de contrôle du SIRET est invalide.",
        ),
        (6, "Nom manquant."),
        (7, "Code postal « 264 » invalide : 5 chiffres attendus."),
        (
            8,
            "SIRET 21075000000015 en double dans le fichier (déjà présent ligne 2).",
        ),
    ] {
        let rejected = row(&html, &format!("data-rejected-line=\"{line}\""));
        assert!(rejected.contains(reason), "line {line}: {rejected}");
    }
    for line in [2, 9, 10] {
        assert!(
            html.contains(&format!("data-created-line=\"{line}\"")),
            "{line}"
        );
    }
    let updated = row(&html, "data-updated-line=\"3\"");
    assert!(updated.contains("Villeurbanne-la-Grande"), "{updated}");

    let created: Vec<Collectivite> = app
        .with_conn(move |conn| {
            collectivites::table
                .filter(collectivites::siret.eq_any([new_a.to_owned(), corse, reunion]))
                .order(collectivites::name.asc())
                .select(Collectivite::as_select())
                .load(conn)
                .unwrap()
        })
        .await;
    let summary: Vec<String> = created
        .iter()
        .map(|c| {
            format!(
                "{} {:?} {:?} {:?} {} {}",
                c.name, c.cog, c.postal_code, c.departement, c.kind, c.active
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            r#"Ajaccio Some("2A004") Some("20000") Some("2A") commune true"#,
            r#"Nouvelle-Commune Some("75056") Some("75001") Some("75") commune true"#,
            r#"Saint-Denis Some("97411") Some("97400") Some("974") commune true"#,
        ]
    );
    assert_eq!(
        collectivite(&app, "demo-collectivite-001").await.name,
        "Villeurbanne-la-Grande"
    );
    let total: i64 = app
        .with_conn(|conn| collectivites::table.count().get_result(conn).unwrap())
        .await;
    assert_eq!(total, 53);
    assert_eq!(event_count(&app, "collectivite.create").await, 3);
    assert_eq!(event_count(&app, "collectivite.update").await, 1);

    // A comma-separated file with the English header names updates in turn.
    let csv = format!("siret,name,cog,postal_code\n{new_a},\"Nouvelle-Commune, Paris\",,75002\n");
    let (status, html) = upload(&staff, "maj.csv", csv.into_bytes()).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(count_in(&html, "data-testid=\"updated-count\""), Some(1));
    let updated: (String, Option<String>, Option<String>) = app
        .with_conn(move |conn| {
            collectivites::table
                .filter(collectivites::siret.eq(new_a))
                .select((
                    collectivites::name,
                    collectivites::cog,
                    collectivites::postal_code,
                ))
                .first(conn)
                .unwrap()
        })
        .await;
    // An empty cell keeps the value.
    assert_eq!(
        updated,
        (
            "Nouvelle-Commune, Paris".to_owned(),
            Some("75056".to_owned()),
            Some("75002".to_owned())
        )
    );

    // Whole-file problems: the form again with the reason, status 400, nothing imported.
    let too_large = {
        let mut bytes = b"siret;nom;cog;code_postal\n".to_vec();
        let line = format!("{new_a};Trop grand;75056;75001\n");
        while bytes.len() <= 5 * 1024 * 1024 {
            bytes.extend_from_slice(line.as_bytes());
        }
        bytes
    };
    for (bytes, message) in [
        (too_large, "Le fichier dépasse 5 Mo"),
        (
            b"siret;nom\n21075000000015;Ch\xe2teau\n".to_vec(),
            "pas encodé en UTF-8",
        ),
        (
            b"numero;nom\n21075000000015;Ville\n".to_vec(),
            "La colonne « siret » est absente",
        ),
        (Vec::new(), "Le fichier est vide."),
    ] {
        let (status, html) = upload(&staff, "mauvais.csv", bytes).await;
        assert_eq!(status, 400, "{message}");
        assert!(html.contains(message), "{message}: {html}");
        assert!(html.contains("data-testid=\"import-error\""));
        assert!(!html.contains("data-testid=\"import-report\""));
    }
    let total: i64 = app
        .with_conn(|conn| collectivites::table.count().get_result(conn).unwrap())
        .await;
    assert_eq!(total, 53);

    // A form without the file, and an upload without the CSRF token.
    let response = staff.post_form("/collectivites/import", &[]).await;
    assert_eq!(response.status().as_u16(), 400);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Choisissez un fichier CSV")
    );
    let part = reqwest::multipart::Part::bytes(b"siret,nom\n".to_vec()).file_name("a.csv");
    let response = staff
        .client
        .post(format!("{}/collectivites/import", staff.address))
        .multipart(reqwest::multipart::Form::new().part("fichier", part))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
}

#[tokio::test]
async fn editeurs_list_and_creation() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;

    let (status, html) = staff.get_text("/editeurs").await;
    assert_eq!(status, 200);
    assert!(html.contains("href=\"/editeurs\" aria-current=\"page\""));
    assert_eq!(rows(&html, "data-editeur=\""), 4);
    let mushroom_requests: i64 = app
        .with_conn(|conn| {
            habilitation_requests::table
                .filter(habilitation_requests::editeur_id.eq("demo-editeur-000"))
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await;
    assert!(mushroom_requests > 0);
    let mushroom = row(&html, "data-editeur=\"demo-editeur-000\"");
    assert!(mushroom.contains("Mushroom Software"));
    assert!(mushroom.contains("api@mushroom-software.fr"));
    assert!(mushroom.contains("data-testid=\"forms-count\">1<"));
    assert!(
        mushroom.contains(&format!(
            "data-testid=\"requests-count\">{mushroom_requests}<"
        )),
        "{mushroom}"
    );

    let (_, html) = staff.get_text("/editeurs?q=ARP%C3%88GE").await;
    assert_eq!(rows(&html, "data-editeur=\""), 1, "{html}");
    assert!(html.contains("Arpège Citoyen"));
    let siret: String = app
        .with_conn(|conn| {
            editeurs::table
                .find("demo-editeur-002")
                .select(editeurs::siret)
                .first(conn)
                .unwrap()
        })
        .await;
    let (_, html) = staff
        .get_text(&format!("/editeurs?q={}", &siret[..9]))
        .await;
    assert_eq!(rows(&html, "data-editeur=\""), 1);
    assert!(html.contains("data-editeur=\"demo-editeur-002\""));

    // Bad input: every problem listed, the typed values kept, nothing created.
    let response = staff
        .post_form(
            "/editeurs",
            &[
                ("name", "Nouvel Éditeur"),
                ("siret", "81011122200033"),
                ("contact_technique_email", "pas-une-adresse"),
                ("apis", "quotient_familial_v2, statut étudiant"),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 400);
    let html = response.text().await.unwrap();
    assert!(html.contains("La clé de contrôle du SIRET est invalide."));
    assert!(html.contains("Adresse e-mail du contact technique invalide"));
    assert!(html.contains("API « statut étudiant » invalide"));
    assert!(html.contains("value=\"Nouvel Éditeur\""));
    assert!(html.contains("value=\"pas-une-adresse\""));

    let fields = [
        ("name", " Nouvel   Éditeur "),
        ("siret", "810 111 222 00032"),
        ("contact_technique_email", " API@Nouvel-Editeur.FR "),
        ("apis", "Quotient_Familial_v2, statut_etudiant,"),
    ];
    let response = staff.post_form("/editeurs", &fields).await;
    assert_eq!(response.status().as_u16(), 303);
    let created: Editeur = app
        .with_conn(|conn| {
            editeurs::table
                .filter(editeurs::siret.eq("81011122200032"))
                .select(Editeur::as_select())
                .first(conn)
                .unwrap()
        })
        .await;
    assert_eq!(
        location(&response),
        format!("/editeurs/{}?succes=cree", created.id)
    );
    assert_eq!(created.name, "Nouvel Éditeur");
    assert_eq!(created.contact_technique_email, "api@nouvel-editeur.fr");
    assert_eq!(created.apis, "quotient_familial_v2,statut_etudiant");
    assert_eq!(event_count(&app, "editeur.create").await, 1);
    let (_, page) = staff
        .get_text(&format!("/editeurs/{}?succes=cree", created.id))
        .await;
    assert!(page.contains("Éditeur créé."));
    assert!(page.contains("Aucun formulaire pré-rempli."));

    // The same SIRET again is refused with the éditeur that has it.
    let response = staff.post_form("/editeurs", &fields).await;
    assert_eq!(response.status().as_u16(), 400);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("Un éditeur avec le SIRET 81011122200032 existe déjà : Nouvel Éditeur."),
        "{html}"
    );
    let total: i64 = app
        .with_conn(|conn| editeurs::table.count().get_result(conn).unwrap())
        .await;
    assert_eq!(total, 5);
    assert_eq!(event_count(&app, "editeur.create").await, 1);
}

#[tokio::test]
async fn editeur_page_and_edit() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_ADMIN).await;
    let (status, html) = staff.get_text("/editeurs/demo-editeur-000").await;
    assert_eq!(status, 200);
    assert!(html.contains("data-testid=\"contact\">api@mushroom-software.fr<"));
    assert!(html.contains("<code>quotient_familial_v2</code>, <code>statut_etudiant</code>"));
    let form = row(&html, "data-form=\"demo-form-000\"");
    assert!(form.contains("api-particulier-city-family-mushroom-software"));
    assert!(form.contains(&format!(
        "href=\"{}\"",
        esc("https://datapass.api.gouv.fr/demandes/api-particulier-city-family-mushroom-software/nouveau")
    )));
    assert!(form.contains("href=\"/editeurs/demo-editeur-000/formulaires/demo-form-000/retirer\""));
    assert!(html.contains("data-member=\"equipe@mushroom-software.fr\""));
    let clients: Vec<(String, String)> = app
        .with_conn(|conn| {
            habilitation_requests::table
                .filter(habilitation_requests::editeur_id.eq("demo-editeur-000"))
                .select((
                    habilitation_requests::id,
                    habilitation_requests::collectivite_id,
                ))
                .load(conn)
                .unwrap()
        })
        .await;
    assert!(!clients.is_empty());
    assert_eq!(rows(&html, "<tr data-request=\""), clients.len());
    for (request, collectivite) in &clients {
        let line = row(&html, &format!("data-request=\"{request}\""));
        assert!(line.contains(&format!("href=\"/demandes/{request}\"")));
        assert!(line.contains(&format!("href=\"/collectivites/{collectivite}\"")));
    }
    // Requests of other éditeurs are not listed.
    assert!(!html.contains("data-request=\"demo-request-001\""));

    let path = "/editeurs/demo-editeur-000/modifier";
    let response = staff
        .post_form(
            path,
            &[
                ("name", ""),
                ("contact_technique_email", "pas-une-adresse"),
                ("apis", "quotient_familial_v2"),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 400);
    let html = response.text().await.unwrap();
    assert!(html.contains("data-testid=\"edit-errors\""));
    assert!(html.contains("Le nom de l"));
    assert!(html.contains("value=\"pas-une-adresse\""));
    let unchanged: Editeur = app
        .with_conn(|conn| {
            editeurs::table
                .find("demo-editeur-000")
                .select(Editeur::as_select())
                .first(conn)
                .unwrap()
        })
        .await;
    assert_eq!(
        unchanged.contact_technique_email,
        "api@mushroom-software.fr"
    );
    assert_eq!(unchanged.name, "Mushroom Software");

    let response = staff
        .post_form(
            path,
            &[
                ("name", "Mushroom Software SAS"),
                ("contact_technique_email", " Jetons@Mushroom-Software.fr "),
                ("apis", "quotient_familial_v2"),
                ("siret", "81011122200032"),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(
        location(&response),
        "/editeurs/demo-editeur-000?succes=modifie"
    );
    let changed: Editeur = app
        .with_conn(|conn| {
            editeurs::table
                .find("demo-editeur-000")
                .select(Editeur::as_select())
                .first(conn)
                .unwrap()
        })
        .await;
    assert_eq!(changed.name, "Mushroom Software SAS");
    assert_eq!(
        changed.contact_technique_email,
        "jetons@mushroom-software.fr"
    );
    assert_eq!(changed.apis, "quotient_familial_v2");
    assert_eq!(changed.siret, unchanged.siret);
    assert_eq!(event_count(&app, "editeur.update").await, 1);

    assert_eq!(staff.get("/editeurs/inconnu").await.status().as_u16(), 404);
    let response = staff
        .post_form(
            "/editeurs/inconnu/modifier",
            &[
                ("name", "X"),
                ("contact_technique_email", "a@b.fr"),
                ("apis", ""),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 404);
}

#[tokio::test]
async fn prefilled_forms_are_added_checked_and_removed_after_confirmation() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let path = "/editeurs/demo-editeur-001/formulaires";
    let url = "https://datapass.api.gouv.fr/demandes/api-particulier-arpege-enfance/nouveau";

    for (uid, name, public_url, message) in [
        (
            "Mon_Formulaire",
            "Nom",
            url,
            "Identifiant de formulaire « Mon_Formulaire » invalide",
        ),
        (
            "ab",
            "Nom",
            url,
            "Identifiant de formulaire « ab » invalide",
        ),
        (
            "api-particulier-arpege-enfance",
            "",
            url,
            "Le nom du formulaire est obligatoire.",
        ),
        (
            "api-particulier-arpege-enfance",
            "Nom",
            "http://datapass.api.gouv.fr/demandes/x",
            "doit être une adresse https complète",
        ),
        (
            "api-particulier-arpege-enfance",
            "Nom",
            "/demandes/x",
            "doit être une adresse https complète",
        ),
        (
            "api-particulier-city-family-mushroom-software",
            "Nom",
            url,
            "est déjà déclaré pour l",
        ),
    ] {
        let response = staff
            .post_form(
                path,
                &[
                    ("form_uid", uid),
                    ("name", name),
                    ("public_url", public_url),
                ],
            )
            .await;
        assert_eq!(response.status().as_u16(), 400, "{message}");
        let html = response.text().await.unwrap();
        assert!(html.contains(message), "{message}: {html}");
        assert!(html.contains("data-testid=\"form-errors\""));
        assert!(html.contains(&format!("value=\"{uid}\"")));
    }
    let count = || {
        app.with_conn(|conn| {
            editeur_forms::table
                .count()
                .get_result::<i64>(conn)
                .unwrap()
        })
    };
    assert_eq!(count().await, 4);

    let response = staff
        .post_form(
            path,
            &[
                ("form_uid", "api-particulier-arpege-enfance"),
                ("name", "Enfance — Arpège"),
                ("public_url", url),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(
        location(&response),
        "/editeurs/demo-editeur-001?succes=formulaire-ajoute"
    );
    assert_eq!(count().await, 5);
    let (_, html) = staff
        .get_text("/editeurs/demo-editeur-001?succes=formulaire-ajoute")
        .await;
    assert!(html.contains("Formulaire pré-rempli ajouté."));
    let added = row(&html, "data-form-uid=\"api-particulier-arpege-enfance\"");
    assert!(added.contains(&format!("href=\"{}\"", esc(url))));
    // Unique across éditeurs: another éditeur cannot take it either.
    let response = staff
        .post_form(
            "/editeurs/demo-editeur-002/formulaires",
            &[
                ("form_uid", "api-particulier-arpege-enfance"),
                ("name", "Copie"),
                ("public_url", url),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 400);
    assert!(response.text().await.unwrap().contains("Arpège Citoyen"));
    assert_eq!(event_count(&app, "editeur.form_add").await, 1);

    // Removal: a confirmation page, then the POST.
    let confirm = "/editeurs/demo-editeur-001/formulaires/demo-form-001/retirer";
    let (status, html) = staff.get_text(confirm).await;
    assert_eq!(status, 200);
    assert!(html.contains("Retirer le formulaire « Portail Famille — Arpège Citoyen »"));
    assert!(html.contains(&format!("action=\"{}\"", esc(confirm))));
    assert!(html.contains(&format!("href=\"{}\"", esc("/editeurs/demo-editeur-001"))));
    // The form is still there until confirmed.
    assert_eq!(count().await, 5);
    // Another éditeur's path to the form: 404.
    assert_eq!(
        staff
            .get("/editeurs/demo-editeur-000/formulaires/demo-form-001/retirer")
            .await
            .status()
            .as_u16(),
        404
    );
    let response = staff
        .post_form(
            "/editeurs/demo-editeur-000/formulaires/demo-form-001/retirer",
            &[],
        )
        .await;
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(count().await, 5);

    let response = staff.post_form(confirm, &[]).await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(
        location(&response),
        "/editeurs/demo-editeur-001?succes=formulaire-retire"
    );
    assert_eq!(count().await, 4);
    let details: Vec<Option<String>> = app
        .with_conn(|conn| {
            events::table
                .filter(events::action.eq("editeur.form_remove"))
                .filter(events::target_id.eq("demo-editeur-001"))
                .select(events::details)
                .load(conn)
                .unwrap()
        })
        .await;
    assert_eq!(details.len(), 1);
    assert!(
        details[0]
            .as_deref()
            .unwrap()
            .contains("api-particulier-arpege-citoyen-famille")
    );
    let (_, html) = staff.get_text("/editeurs/demo-editeur-001").await;
    assert!(!html.contains("data-form=\"demo-form-001\""));
    // Its requests still make the collectivités clients (recorded for the éditeur).
    assert!(html.contains("data-request=\"demo-request-001\""));
    assert_eq!(staff.get(confirm).await.status().as_u16(), 404);
    assert_eq!(staff.post_form(confirm, &[]).await.status().as_u16(), 404);
}

fn cli(dir: &std::path::Path, database_url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_qf-backoffice"));
    command
        .current_dir(dir)
        .env_remove("BIND")
        .env_remove("PUBLIC_URL")
        .env("DATABASE_URL", database_url)
        .env("DSFR_DOWNLOAD", "0")
        .env("RUST_LOG", "warn");
    command
}

fn run(command: &mut Command) -> (i32, String, String) {
    let output = command.output().expect("binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn import_collectivites_command_reports_progress_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let test_db = TestDb::new();
    let (code, _, err) = run(cli(dir.path(), &test_db.url).arg("migrate"));
    assert_eq!(code, 0, "{err}");

    // 1 200 valid lines, then a bad SIRET and a missing name.
    let mut csv = String::from("siret;nom;cog;code_postal\n");
    for i in 0..1200 {
        let siret = with_check_digit(&format!("2126079{i:06}")).unwrap();
        csv.push_str(&format!("{siret};Commune {i};26079;26410\n"));
    }
    csv.push_str("21075000000016;Mauvaise clé;26079;26410\n");
    csv.push_str("21075000000023;;26079;26410\n");
    let file = dir.path().join("communes.csv");
    std::fs::write(&file, &csv).unwrap();

    let (code, out, err) = run(cli(dir.path(), &test_db.url)
        .arg("import-collectivites")
        .arg(&file));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("… 500 lignes traitées"), "{err}");
    assert!(err.contains("… 1000 lignes traitées"), "{err}");
    assert!(out.contains("1202 ligne(s) lue(s)"), "{out}");
    assert!(out.contains("Collectivités créées : 1200"), "{out}");
    assert!(out.contains("Collectivités mises à jour : 0"), "{out}");
    assert!(out.contains("Lignes rejetées : 2"), "{out}");
    assert!(
        out.contains("  ligne 1202 : SIRET invalide : La clé de contrôle du SIRET est invalide."),
        "{out}"
    );
    assert!(out.contains("  ligne 1203 : Nom manquant."), "{out}");

    let mut conn = test_db.connect();
    let total: i64 = collectivites::table.count().get_result(&mut conn).unwrap();
    assert_eq!(total, 1200);
    let logged: i64 = events::table
        .filter(events::action.eq("collectivite.create"))
        .filter(events::actor.eq("cli"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(logged, 1200);
    drop(conn);

    // Again with one name changed: one update, the rest unchanged.
    let first = with_check_digit("2126079000000").unwrap();
    std::fs::write(
        &file,
        format!("siret,nom\n{first},Commune zéro\n{first},Doublon\n"),
    )
    .unwrap();
    let (code, out, err) = run(cli(dir.path(), &test_db.url)
        .arg("import-collectivites")
        .arg(&file));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Collectivités créées : 0"), "{out}");
    assert!(out.contains("Collectivités mises à jour : 1"), "{out}");
    assert!(out.contains("Lignes rejetées : 1"), "{out}");
    assert!(out.contains("  ligne 3 : SIRET"), "{out}");

    // A file that cannot be read: a one-line error, a failure exit code.
    let (code, _, err) = run(cli(dir.path(), &test_db.url)
        .arg("import-collectivites")
        .arg(dir.path().join("absent.csv")));
    assert_ne!(code, 0);
    assert!(err.contains("absent.csv"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
