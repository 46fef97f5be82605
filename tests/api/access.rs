//! Access rules: every route of the router against every kind of user, each answer asserted.
//! A route missing from the table below fails the test, so a new route cannot be forgotten.

use diesel::prelude::*;
use qf_backoffice::db::schema::{request_contacts, staff_members};
use qf_backoffice::demo::{DEMO_ADMIN, DEMO_INSTRUCTEUR};
use qf_backoffice::routes::all_routes;

use crate::helpers::{TestApp, Visitor};

/// What a role must get.
#[derive(Clone, Copy, Debug)]
pub enum Expect {
    /// The page or action (any 2xx, a redirect elsewhere than sign-in, or a 4xx about input).
    Allowed,
    /// A redirect to the sign-in page.
    Login,
    /// 403: signed in, wrong role.
    Forbidden,
    /// 404: the object is out of reach.
    NotFound,
    /// Exactly this status, for everyone.
    Status(u16),
}

pub const ROLES: [&str; 7] = [
    "anonymous",
    "staff",
    "admin",
    "editeur_a",
    "editeur_b",
    "demandeur",
    "other_contact",
];

pub struct Fixture {
    pub request_a: String,
    pub email_id: String,
    pub staff_target: String,
    pub member_target: String,
    /// A live API key of éditeur A (Mushroom Software).
    pub api_key_a: String,
    /// Éditeur A's id.
    pub editeur_a: String,
}

/// A concrete request for a route: (path, form fields, expectation per role).
pub type Case = (String, Vec<(&'static str, &'static str)>, [Expect; 7]);

pub fn case(route: (&str, &str), f: &Fixture) -> Option<Case> {
    use Expect::*;
    let staff_only = [
        Login, Allowed, Allowed, Forbidden, Forbidden, Forbidden, Forbidden,
    ];
    let admin_only = [
        Login, Forbidden, Allowed, Forbidden, Forbidden, Forbidden, Forbidden,
    ];
    let everyone = |e: Expect| [e; 7];
    Some(match route {
        ("get", "/") => (
            "/".into(),
            vec![],
            [Login, Allowed, Allowed, Allowed, Allowed, Allowed, Allowed],
        ),
        ("get", "/health") => ("/health".into(), vec![], everyone(Status(200))),
        ("get", "/connexion") => (
            "/connexion".into(),
            vec![],
            [
                Status(200),
                Allowed,
                Allowed,
                Allowed,
                Allowed,
                Allowed,
                Allowed,
            ],
        ),
        ("post", "/connexion") => (
            "/connexion".into(),
            vec![("email", "quelquun@ville.fr")],
            everyone(Status(200)),
        ),
        ("get", "/connexion/lien") => (
            "/connexion/lien?jeton=faux".into(),
            vec![],
            everyone(Status(410)),
        ),
        ("post", "/connexion/lien") => (
            "/connexion/lien".into(),
            vec![("jeton", "faux")],
            everyone(Status(410)),
        ),
        ("post", "/deconnexion") => ("/deconnexion".into(), vec![], everyone(Status(303))),
        // ProConnect is configured for this test (a local provider): the button sends anyone
        // on (to the provider, or home when signed in); a forged callback is refused.
        ("post", "/connexion/proconnect") => {
            ("/connexion/proconnect".into(), vec![], everyone(Allowed))
        }
        ("get", "/connexion/proconnect/retour") => (
            "/connexion/proconnect/retour?code=faux&state=faux".into(),
            vec![],
            everyone(Status(400)),
        ),
        ("get", "/deconnexion/proconnect") => (
            "/deconnexion/proconnect?state=faux".into(),
            vec![],
            everyone(Status(303)),
        ),
        ("get", "/personnes/{email}") => {
            ("/personnes/cible@beta.gouv.fr".into(), vec![], staff_only)
        }
        ("get", "/demandes/{id}") => (
            format!("/demandes/{}", f.request_a),
            vec![],
            [
                Login, Allowed, Allowed, Allowed, NotFound, Allowed, NotFound,
            ],
        ),
        ("get", "/emails") => ("/emails".into(), vec![], staff_only),
        ("get", "/emails/{id}") => (format!("/emails/{}", f.email_id), vec![], staff_only),
        ("post", "/emails/{id}/relancer") => (
            format!("/emails/{}/relancer", f.email_id),
            vec![],
            staff_only,
        ),
        ("get", "/journal") => ("/journal".into(), vec![], staff_only),
        ("get", "/admin/comptes") => ("/admin/comptes".into(), vec![], admin_only),
        ("post", "/admin/comptes/equipe") => (
            "/admin/comptes/equipe".into(),
            vec![("email", "matrice@beta.gouv.fr"), ("role", "instructeur")],
            admin_only,
        ),
        ("get", "/admin/comptes/equipe/{id}/retirer") => (
            format!("/admin/comptes/equipe/{}/retirer", f.staff_target),
            vec![],
            admin_only,
        ),
        ("post", "/admin/comptes/equipe/{id}/retirer") => (
            format!("/admin/comptes/equipe/{}/retirer", f.staff_target),
            vec![],
            admin_only,
        ),
        ("post", "/admin/comptes/editeurs") => (
            "/admin/comptes/editeurs".into(),
            vec![
                ("email", "matrice@editeur.fr"),
                ("editeur_id", "demo-editeur-002"),
            ],
            admin_only,
        ),
        ("get", "/admin/comptes/editeurs/{id}/retirer") => (
            format!("/admin/comptes/editeurs/{}/retirer", f.member_target),
            vec![],
            admin_only,
        ),
        ("post", "/admin/comptes/editeurs/{id}/retirer") => (
            format!("/admin/comptes/editeurs/{}/retirer", f.member_target),
            vec![],
            admin_only,
        ),
        ("post", "/admin/comptes/sessions/terminer") => (
            "/admin/comptes/sessions/terminer".into(),
            vec![],
            admin_only,
        ),
        ("get", "/static/dsfr/{path:.*}") => (
            "/static/dsfr/dsfr.min.css".into(),
            vec![],
            everyone(Status(404)),
        ),
        ("get", "/static/{path:.*}") => ("/static/app.css".into(), vec![], everyone(Status(200))),
        _ => return None,
    })
}

pub async fn visitor_for(app: &TestApp, role: &str, emails: &[(&str, String)]) -> Visitor {
    match emails.iter().find(|(r, _)| *r == role) {
        Some((_, email)) => app.signed_in(email).await,
        None => app.visitor(),
    }
}

/// The route of a case, looked up in every area's table.
pub fn any_case(route: (&str, &str), fixture: &Fixture) -> Option<Case> {
    case(route, fixture)
        .or_else(|| crate::access_directory::case(route, fixture))
        .or_else(|| crate::access_instruction::case(route, fixture))
        .or_else(|| crate::access_kit::case(route, fixture))
        .or_else(|| crate::access_tokens::case(route, fixture))
        .or_else(|| crate::access_hubee::case(route, fixture))
        .or_else(|| crate::access_api::case(route, fixture))
}

/// The people of each role, and the objects the cases act on (demo data loaded).
pub async fn setup(app: &TestApp) -> (Fixture, Vec<(&'static str, String)>) {
    let demandeur_of = |request: &'static str| {
        app.with_conn(move |conn| {
            request_contacts::table
                .filter(request_contacts::request_id.eq(request))
                .filter(request_contacts::role.eq("demandeur"))
                .select(request_contacts::email)
                .first::<String>(conn)
                .unwrap()
        })
    };
    // Request 000 goes through Mushroom Software's form (éditeur A); 001 through Arpège (B).
    let demandeur = demandeur_of("demo-request-000").await;
    let other_contact = demandeur_of("demo-request-001").await;
    let emails = vec![
        ("staff", DEMO_INSTRUCTEUR.to_owned()),
        ("admin", DEMO_ADMIN.to_owned()),
        ("editeur_a", "equipe@mushroom-software.fr".to_owned()),
        ("editeur_b", "equipe@arpege-citoyen.fr".to_owned()),
        ("demandeur", demandeur),
        ("other_contact", other_contact),
    ];
    let fixture = app
        .with_conn(|conn| {
            let now = qf_backoffice::db::now();
            qf_backoffice::models::accounts::upsert_staff(
                conn,
                "cible@beta.gouv.fr",
                qf_backoffice::domain::roles::StaffRole::Instructeur,
                "test",
                now,
            )
            .unwrap();
            qf_backoffice::models::accounts::add_editeur_member(
                conn,
                "demo-editeur-003",
                "cible@editeur.fr",
                "test",
                now,
            )
            .unwrap();
            let email = qf_backoffice::mail::NewEmail {
                template: "test".into(),
                to: vec!["a@ville.fr".into()],
                cc: vec![],
                subject: "Essai".into(),
                text: "texte".into(),
                html: "<p>html</p>".into(),
                related: None,
            };
            let email_id = qf_backoffice::mail::outbox::enqueue(conn, &email, now).unwrap();
            diesel::update(qf_backoffice::db::schema::outbox::table.find(&email_id))
                .set((
                    qf_backoffice::db::schema::outbox::status.eq("failed"),
                    qf_backoffice::db::schema::outbox::next_attempt_at
                        .eq(now + chrono::Duration::days(1)),
                ))
                .execute(conn)
                .unwrap();
            let editeur_a: String = qf_backoffice::db::schema::editeur_members::table
                .filter(
                    qf_backoffice::db::schema::editeur_members::email
                        .eq("equipe@mushroom-software.fr"),
                )
                .select(qf_backoffice::db::schema::editeur_members::editeur_id)
                .first(conn)
                .unwrap();
            let (api_key, _) = qf_backoffice::models::api_keys::create(
                conn,
                &editeur_a,
                "Matrice",
                &"ab".repeat(32),
                "test",
                now,
            )
            .unwrap();
            Fixture {
                api_key_a: api_key.id,
                editeur_a: editeur_a.clone(),
                request_a: "demo-request-000".into(),
                email_id,
                staff_target: staff_members::table
                    .filter(staff_members::email.eq("cible@beta.gouv.fr"))
                    .select(staff_members::id)
                    .first(conn)
                    .unwrap(),
                member_target: qf_backoffice::db::schema::editeur_members::table
                    .filter(
                        qf_backoffice::db::schema::editeur_members::email.eq("cible@editeur.fr"),
                    )
                    .select(qf_backoffice::db::schema::editeur_members::id)
                    .first(conn)
                    .unwrap(),
            }
        })
        .await;
    (fixture, emails)
}

#[tokio::test]
async fn every_route_answers_each_role_as_expected() {
    // With ProConnect configured, so that its routes answer as in production.
    let provider = crate::oidc_provider::TestProvider::start(crate::oidc_provider::TestUser::new(
        "personne@mairie.fr",
    ))
    .await;
    let settings = provider.settings();
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::spawn_with(&settings).await;
    app.load_demo().await;
    let (fixture, emails) = setup(&app).await;
    let mut failures = Vec::new();
    let mut checked = 0;
    let routes = all_routes();
    for route in &routes {
        let found = any_case(*route, &fixture);
        let Some((path, fields, expected)) = found else {
            failures.push(format!(
                "{} {}: no expectation in the access matrix",
                route.0, route.1
            ));
            continue;
        };
        for (role, expect) in ROLES.iter().zip(expected) {
            // A fresh session per cell: a sign-out or a removal never leaks into the next.
            let visitor = visitor_for(&app, role, &emails).await;
            // Link requests are rate-limited per address: one address per role.
            let own_address = format!("{role}@ville.fr");
            let fields: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| {
                    (
                        *k,
                        if *v == "quelquun@ville.fr" {
                            own_address.as_str()
                        } else {
                            *v
                        },
                    )
                })
                .collect();
            let response = if route.0 == "post" {
                visitor.post_form(&path, &fields).await
            } else {
                visitor.get(&path).await
            };
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let ok = match expect {
                Expect::Allowed => {
                    let refused = matches!(status, 401 | 403 | 404 | 500..=599);
                    let to_sign_in = status == 303 && location == "/connexion";
                    !refused && !to_sign_in
                }
                Expect::Login => status == 303 && location == "/connexion",
                Expect::Forbidden => status == 403,
                Expect::NotFound => status == 404,
                Expect::Status(s) => status == s,
            };
            checked += 1;
            if !ok {
                failures.push(format!(
                    "{} {} as {role}: expected {expect:?}, got {status} {location}",
                    route.0, path
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(checked, routes.len() * ROLES.len());
}

#[tokio::test]
async fn editeurs_and_contacts_see_only_their_own() {
    let app = TestApp::spawn_with_demo().await;
    let a = app.signed_in("equipe@mushroom-software.fr").await;
    let b = app.signed_in("equipe@arpege-citoyen.fr").await;
    let (_, home_a) = a.get_text("/").await;
    let (_, home_b) = b.get_text("/").await;
    assert!(home_a.contains("data-request=\"demo-request-000\""));
    assert!(!home_a.contains("data-request=\"demo-request-001\""));
    assert!(home_b.contains("data-request=\"demo-request-001\""));
    assert!(!home_b.contains("data-request=\"demo-request-000\""));
    // No staff figures for éditeurs.
    assert!(!home_a.contains("data-testid=\"request-counts\""));

    let demandeur: String = app
        .with_conn(|conn| {
            request_contacts::table
                .filter(request_contacts::request_id.eq("demo-request-000"))
                .filter(request_contacts::role.eq("demandeur"))
                .select(request_contacts::email)
                .first(conn)
                .unwrap()
        })
        .await;
    let contact = app.signed_in(&demandeur).await;
    let (_, home) = contact.get_text("/").await;
    assert_eq!(home.matches("data-request=\"").count(), 1, "{home}");
    assert!(home.contains("data-request=\"demo-request-000\""));
    assert!(home.contains("Demandeur"));
    // Unknown ids and other requests look the same: 404.
    assert_eq!(
        contact
            .get("/demandes/demo-request-001")
            .await
            .status()
            .as_u16(),
        404
    );
    assert_eq!(
        contact.get("/demandes/nexiste-pas").await.status().as_u16(),
        404
    );
}
