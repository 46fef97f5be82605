//! Sign-in by e-mail link through a real SMTP server, link rules, rate limits, sign-out,
//! CSRF refusals, and admin account management.

use chrono::Duration;
use diesel::prelude::*;
use qf_backoffice::db::schema::{events, login_attempts, outbox, staff_members};
use qf_backoffice::demo::{DEMO_ADMIN, DEMO_INSTRUCTEUR};

use crate::helpers::{TestApp, csrf_in};
use crate::smtp::SmtpServer;

fn link_in(text: &str) -> String {
    let start = text.find("http").expect("a link in the e-mail");
    text[start..].split_whitespace().next().unwrap().to_owned()
}

#[tokio::test]
async fn full_sign_in_flow_through_a_real_smtp_server() {
    let smtp = SmtpServer::start().await;
    let app =
        TestApp::spawn_with(&[("SMTP_URL", &smtp.url()), ("MAIL_POLL_INTERVAL", "0.2")]).await;
    app.load_demo().await;
    let browser = app.visitor();

    let response = browser
        .post_form(
            "/connexion",
            &[("email", "  Instructeur@Demo.API.gouv.fr ")],
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("Vérifiez votre messagerie"));

    let mails = smtp.wait_for(1, 20).await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.recipients, vec![DEMO_INSTRUCTEUR.to_owned()]);
    assert_eq!(mail.from, "support@particulier.api.gouv.fr");
    assert_eq!(mail.subject(), "Votre lien de connexion au back-office QF");
    let link = link_in(&mail.text());
    assert!(
        link.starts_with(&format!("{}/connexion/lien?jeton=", app.address)),
        "{link}"
    );
    assert!(
        mail.data.contains("Content-Type: text/html"),
        "an HTML part too"
    );

    // Opening the link asks for a click; the click signs in.
    let path = link.trim_start_matches(&app.address).to_owned();
    let (status, confirm) = browser.get_text(&path).await;
    assert_eq!(status, 200, "{link}\n{}", mail.data);
    assert!(confirm.contains(DEMO_INSTRUCTEUR));
    let token = path.split("jeton=").nth(1).unwrap();
    let response = browser
        .post_raw(
            "/connexion/lien",
            &[
                ("jeton", token),
                ("csrf_token", &csrf_in(&confirm).unwrap()),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
    let (status, home) = browser.get_text("/").await;
    assert_eq!(status, 200);
    assert!(home.contains("data-testid=\"user-email\">instructeur@demo.api.gouv.fr"));
    assert!(
        home.contains("Demandes d&#x27;habilitation par état")
            || home.contains("Demandes d'habilitation par état")
    );

    // Logged: the sign-in and the e-mail sent.
    let actions: Vec<String> = app
        .with_conn(|conn| {
            events::table
                .select(events::action)
                .filter(events::action.eq_any(["auth.sign_in", "email.sent"]))
                .load(conn)
                .unwrap()
        })
        .await;
    assert!(actions.contains(&"auth.sign_in".to_owned()));
    assert!(actions.contains(&"email.sent".to_owned()));

    // Sign-out: back to the sign-in page, and the session no longer opens pages.
    let response = browser.post_form("/deconnexion", &[]).await;
    assert_eq!(response.status().as_u16(), 303);
    let response = browser.get("/").await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(response.headers()["location"], "/connexion");

    // The link is single-use.
    let other = app.visitor();
    let (status, html) = other.get_text(&path).await;
    assert_eq!(status, 410);
    assert!(html.contains("déjà été utilisé"), "{html}");
    let response = other
        .post_form("/connexion/lien", &[("jeton", token)])
        .await;
    assert_eq!(response.status().as_u16(), 410);
    assert_eq!(other.get("/").await.status().as_u16(), 303);
}

#[tokio::test]
async fn expired_and_forged_links_are_refused() {
    let app = TestApp::spawn_with_demo().await;
    let old = qf_backoffice::db::now() - Duration::minutes(16);
    let token = app.login_token(DEMO_ADMIN, old).await;
    let visitor = app.visitor();
    let (status, html) = visitor
        .get_text(&format!("/connexion/lien?jeton={token}"))
        .await;
    assert_eq!(status, 410);
    assert!(html.contains("a expiré"), "{html}");
    let response = visitor
        .post_form("/connexion/lien", &[("jeton", &token)])
        .await;
    assert_eq!(response.status().as_u16(), 410);
    assert_eq!(visitor.get("/").await.status().as_u16(), 303);

    let (status, html) = visitor.get_text("/connexion/lien?jeton=invente").await;
    assert_eq!(status, 410);
    assert!(html.contains("n'est pas valide") || html.contains("n&#x27;est pas valide"));

    // A link still within its 15 minutes works.
    let recent = qf_backoffice::db::now() - Duration::minutes(14);
    let token = app.login_token(DEMO_ADMIN, recent).await;
    visitor.use_link(&token).await;
    assert_eq!(visitor.get("/").await.status().as_u16(), 200);
}

#[tokio::test]
async fn unknown_addresses_are_indistinguishable_from_known_ones() {
    let app = TestApp::spawn_with_demo().await;
    let known = app
        .visitor()
        .post_form("/connexion", &[("email", DEMO_ADMIN)])
        .await;
    let known_status = known.status().as_u16();
    let known_page = known.text().await.unwrap();
    let unknown = app
        .visitor()
        .post_form("/connexion", &[("email", "personne@inconnu.fr")])
        .await;
    let unknown_status = unknown.status().as_u16();
    let unknown_page = unknown.text().await.unwrap();
    assert_eq!(known_status, unknown_status);
    let strip = |page: &str, email: &str| {
        let without_email = page.replace(email, "<adresse>");
        // The CSRF token differs per session, nothing else may.
        match csrf_in(&without_email) {
            Some(token) => without_email.replace(&token, "<csrf>"),
            None => without_email,
        }
    };
    assert_eq!(
        strip(&known_page, DEMO_ADMIN),
        strip(&unknown_page, "personne@inconnu.fr")
    );

    let queued: Vec<String> = app
        .with_conn(|conn| {
            outbox::table
                .select(outbox::to_addresses)
                .load(conn)
                .unwrap()
        })
        .await;
    assert_eq!(
        queued,
        vec![DEMO_ADMIN.to_owned()],
        "no e-mail to the unknown address"
    );
}

#[tokio::test]
async fn malformed_addresses_get_a_clear_message_and_change_nothing() {
    let app = TestApp::spawn().await;
    let response = app
        .visitor()
        .post_form("/connexion", &[("email", "pas-une-adresse")])
        .await;
    assert_eq!(response.status().as_u16(), 400);
    let page = response.text().await.unwrap();
    assert!(page.contains("adresse e-mail complète"));
    assert!(page.contains("value=\"pas-une-adresse\""), "input kept");
    let attempts: i64 = app
        .with_conn(|conn| login_attempts::table.count().get_result(conn).unwrap())
        .await;
    assert_eq!(attempts, 0);
}

#[tokio::test]
async fn link_requests_are_rate_limited_per_address_and_per_ip() {
    let app = TestApp::spawn_with_demo().await;
    let visitor = app.visitor();
    for _ in 0..5 {
        let response = visitor
            .post_form("/connexion", &[("email", DEMO_ADMIN)])
            .await;
        assert_eq!(response.status().as_u16(), 200);
    }
    let response = visitor
        .post_form("/connexion", &[("email", DEMO_ADMIN)])
        .await;
    assert_eq!(response.status().as_u16(), 429);
    assert!(response.text().await.unwrap().contains("Trop de demandes"));
    let queued: i64 = app
        .with_conn(|conn| outbox::table.count().get_result(conn).unwrap())
        .await;
    assert_eq!(queued, 5, "no link past the limit");

    // Per IP: 20 requests in the window, whatever the addresses (6 already made, the
    // refused one included).
    for i in 0..14 {
        let response = visitor
            .post_form("/connexion", &[("email", &format!("x{i}@ville.fr"))])
            .await;
        let status = response.status().as_u16();
        assert_eq!(
            status,
            200,
            "request {i}: {}",
            response.text().await.unwrap()
        );
    }
    let response = visitor
        .post_form("/connexion", &[("email", "encore@ville.fr")])
        .await;
    assert_eq!(response.status().as_u16(), 429);
}

#[tokio::test]
async fn posts_without_a_valid_csrf_token_are_refused_and_change_nothing() {
    let app = TestApp::spawn_with_demo().await;
    let admin = app.signed_in(DEMO_ADMIN).await;
    let count_staff = || async {
        app.with_conn(|conn| {
            staff_members::table
                .count()
                .get_result::<i64>(conn)
                .unwrap()
        })
        .await
    };
    let before = count_staff().await;

    let missing = admin
        .post_raw(
            "/admin/comptes/equipe",
            &[("email", "pirate@exemple.fr"), ("role", "admin")],
        )
        .await;
    assert_eq!(missing.status().as_u16(), 403);
    assert!(missing.text().await.unwrap().contains("jeton de sécurité"));
    let wrong = admin
        .post_raw(
            "/admin/comptes/equipe",
            &[
                ("email", "pirate@exemple.fr"),
                ("role", "admin"),
                ("csrf_token", "0000"),
            ],
        )
        .await;
    assert_eq!(wrong.status().as_u16(), 403);
    // Another session's token does not work either.
    let other_token = app.visitor().csrf().await;
    let foreign = admin
        .post_raw(
            "/admin/comptes/equipe",
            &[
                ("email", "pirate@exemple.fr"),
                ("role", "admin"),
                ("csrf_token", &other_token),
            ],
        )
        .await;
    assert_eq!(foreign.status().as_u16(), 403);
    assert_eq!(count_staff().await, before);

    // Sign-in and sign-out forms are protected too.
    let anonymous = app.visitor();
    let response = anonymous
        .post_raw("/connexion", &[("email", DEMO_ADMIN)])
        .await;
    assert_eq!(response.status().as_u16(), 403);
    let response = admin.post_raw("/deconnexion", &[]).await;
    assert_eq!(response.status().as_u16(), 403);
    assert_eq!(
        admin.get("/").await.status().as_u16(),
        200,
        "still signed in"
    );
    let attempts: i64 = app
        .with_conn(|conn| login_attempts::table.count().get_result(conn).unwrap())
        .await;
    assert_eq!(attempts, 0);

    // With the token, the same request works.
    let ok = admin
        .post_form(
            "/admin/comptes/equipe",
            &[
                ("email", "Nouvelle.Agente@beta.gouv.fr"),
                ("role", "instructeur"),
            ],
        )
        .await;
    assert_eq!(ok.status().as_u16(), 303);
    assert_eq!(count_staff().await, before + 1);
}

#[tokio::test]
async fn admins_manage_staff_and_editeur_members() {
    let app = TestApp::spawn_with_demo().await;
    let admin = app.signed_in(DEMO_ADMIN).await;

    let response = admin
        .post_form(
            "/admin/comptes/equipe",
            &[
                ("email", " Claire.Dupont@beta.gouv.fr "),
                ("role", "instructeur"),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
    let (_, page) = admin.get_text("/admin/comptes").await;
    assert!(page.contains("data-staff=\"claire.dupont@beta.gouv.fr\""));

    // The new instructeur can sign in and sees the staff overview, but not account management.
    let claire = app.signed_in("claire.dupont@beta.gouv.fr").await;
    assert_eq!(claire.get("/").await.status().as_u16(), 200);
    assert_eq!(claire.get("/admin/comptes").await.status().as_u16(), 403);

    // Bad input: a clear message, nothing added.
    let response = admin
        .post_form(
            "/admin/comptes/equipe",
            &[("email", "claire"), ("role", "instructeur")],
        )
        .await;
    assert_eq!(response.status().as_u16(), 400);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Adresse e-mail invalide")
    );

    // Removal asks for confirmation first.
    let id: String = app
        .with_conn(|conn| {
            staff_members::table
                .filter(staff_members::email.eq("claire.dupont@beta.gouv.fr"))
                .select(staff_members::id)
                .first(conn)
                .unwrap()
        })
        .await;
    let (status, confirm) = admin
        .get_text(&format!("/admin/comptes/equipe/{id}/retirer"))
        .await;
    assert_eq!(status, 200);
    assert!(confirm.contains("Retirer claire.dupont@beta.gouv.fr"));
    let response = admin
        .post_form(&format!("/admin/comptes/equipe/{id}/retirer"), &[])
        .await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(claire.get("/").await.status().as_u16(), 303, "no role left");

    // The last admin cannot be removed.
    let admin_id: String = app
        .with_conn(|conn| {
            staff_members::table
                .filter(staff_members::email.eq(DEMO_ADMIN))
                .select(staff_members::id)
                .first(conn)
                .unwrap()
        })
        .await;
    let response = admin
        .post_form(&format!("/admin/comptes/equipe/{admin_id}/retirer"), &[])
        .await;
    assert_eq!(response.status().as_u16(), 409);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("dernier administrateur")
    );

    // Éditeur members: a new member of Mushroom Software sees its clients.
    let response = admin
        .post_form(
            "/admin/comptes/editeurs",
            &[
                ("email", "dev@mushroom-software.fr"),
                ("editeur_id", "demo-editeur-000"),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
    let dev = app.signed_in("dev@mushroom-software.fr").await;
    let (status, home) = dev.get_text("/").await;
    assert_eq!(status, 200);
    assert!(home.contains("Vos collectivités clientes"));
    let response = admin
        .post_form(
            "/admin/comptes/editeurs",
            &[("email", "dev@x.fr"), ("editeur_id", "nope")],
        )
        .await;
    assert_eq!(response.status().as_u16(), 400);
}

#[tokio::test]
async fn the_generated_session_key_is_kept_so_restarts_keep_people_signed_in() {
    let test_db = crate::helpers::TestDb::new();
    let settings = crate::helpers::test_settings(&test_db, &[]);
    let first = qf_backoffice::startup::build_state(settings.clone())
        .await
        .unwrap();
    let second = qf_backoffice::startup::build_state(settings).await.unwrap();
    assert_eq!(first.session_key.master(), second.session_key.master());
    assert_eq!(first.session_key.master().len(), 64);

    // With SESSION_KEY set, that key is used instead (and a short one is refused at start).
    let key = "k".repeat(64);
    let explicit = crate::helpers::test_settings(&test_db, &[("SESSION_KEY", &key)]);
    let third = qf_backoffice::startup::build_state(explicit).await.unwrap();
    assert_ne!(third.session_key.master(), first.session_key.master());
}

#[tokio::test]
async fn session_cookies_are_http_only_and_same_site_lax() {
    let app = TestApp::spawn_with_demo().await;
    let token = app.login_token(DEMO_ADMIN, qf_backoffice::db::now()).await;
    let visitor = app.visitor();
    let (_, page) = visitor
        .get_text(&format!("/connexion/lien?jeton={token}"))
        .await;
    let response = visitor
        .client
        .post(format!("{}/connexion/lien", app.address))
        .form(&[
            ("jeton", token.as_str()),
            ("csrf_token", &csrf_in(&page).unwrap()),
        ])
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("qf_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Lax"));
    assert!(!cookie.contains("Secure"), "plain http in tests");
    assert!(!cookie.contains(DEMO_ADMIN), "the cookie is encrypted");
}
