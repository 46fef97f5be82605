//! The search index (`qf_backoffice::search`): kept in step with its source tables by the
//! database's triggers, equal to the old `LIKE '%…%'` semantics (plus accents) on the demo
//! data, case- and accent-blind, answering 2-character texts and SIRET prefixes, and taking
//! FTS syntax as plain text.

use std::collections::BTreeSet;

use diesel::prelude::*;
use qf_backoffice::db::DbConnection;
use qf_backoffice::db::schema::{collectivites, editeurs, request_contacts, staff_members};
use qf_backoffice::demo::DEMO_INSTRUCTEUR;
use qf_backoffice::search::{self, Kind, fold};

use crate::helpers::TestApp;

/// The targets of the documents of `kind` containing `q`.
fn found(conn: &mut DbConnection, kind: Kind, q: &str) -> BTreeSet<String> {
    match search::parse(q) {
        Some(text) => search::documents(conn, kind, &text, 100_000)
            .unwrap()
            .into_iter()
            .map(|doc| doc.target_id)
            .collect(),
        None => BTreeSet::new(),
    }
}

fn insert_collectivite(conn: &mut DbConnection, id: &str, siret: &str, name: &str) {
    let now = qf_backoffice::db::now();
    diesel::insert_into(collectivites::table)
        .values((
            collectivites::id.eq(id),
            collectivites::siret.eq(siret),
            collectivites::name.eq(name),
            collectivites::kind.eq("commune"),
            collectivites::cog.eq(Some("34032")),
            collectivites::postal_code.eq(Some("34500")),
            collectivites::departement.eq(Some("34")),
            collectivites::active.eq(true),
            collectivites::had_hubee_account.eq(false),
            collectivites::created_at.eq(now),
            collectivites::updated_at.eq(now),
        ))
        .execute(conn)
        .unwrap();
}

fn insert_contact(conn: &mut DbConnection, id: &str, email: &str, family: &str) {
    diesel::insert_into(request_contacts::table)
        .values((
            request_contacts::id.eq(id),
            request_contacts::request_id.eq("demo-request-001"),
            request_contacts::role.eq("contact_metier"),
            request_contacts::email.eq(email),
            request_contacts::given_name.eq(Some("Zoé")),
            request_contacts::family_name.eq(Some(family)),
        ))
        .execute(conn)
        .unwrap();
}

#[tokio::test]
async fn the_index_follows_inserts_renames_contact_changes_and_deletions() {
    let app = TestApp::spawn_with_demo().await;
    app.with_conn(|conn| {
        let one = |ids: &[&str]| ids.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
        let none = BTreeSet::new();

        // A new collectivité is found by name (any case, with or without accents), SIRET
        // and codes.
        insert_collectivite(conn, "search-c1", "99999999900011", "Béziers-Quenouille");
        for q in [
            "béziers-quen",
            "BEZIERS-QUEN",
            "ziers-q",
            "99999999900011",
            "34032",
        ] {
            assert_eq!(
                found(conn, Kind::Collectivite, q),
                one(&["search-c1"]),
                "{q}"
            );
        }
        // Renamed: the old name is gone, the new one is found.
        diesel::update(collectivites::table.find("search-c1"))
            .set(collectivites::name.eq("Montagnac-Quenouille"))
            .execute(conn)
            .unwrap();
        assert_eq!(found(conn, Kind::Collectivite, "béziers-quen"), none);
        assert_eq!(
            found(conn, Kind::Collectivite, "montagnac-quen"),
            one(&["search-c1"])
        );
        // Deleted: gone.
        diesel::delete(collectivites::table.find("search-c1"))
            .execute(conn)
            .unwrap();
        assert_eq!(found(conn, Kind::Collectivite, "montagnac-quen"), none);

        // A new contact points to its request; a changed e-mail or name follows; deleted: gone.
        diesel::delete(
            request_contacts::table
                .filter(request_contacts::request_id.eq("demo-request-001"))
                .filter(request_contacts::role.eq("contact_metier")),
        )
        .execute(conn)
        .unwrap();
        insert_contact(
            conn,
            "search-k1",
            "zoe.quenouille@exemple.fr",
            "Quenouillère",
        );
        assert_eq!(
            found(conn, Kind::Contact, "zoe.quenouille@"),
            one(&["demo-request-001"])
        );
        assert_eq!(
            found(conn, Kind::Contact, "quenouillere"),
            one(&["demo-request-001"])
        );
        diesel::update(request_contacts::table.find("search-k1"))
            .set((
                request_contacts::email.eq("zoe.fuseau@exemple.fr"),
                request_contacts::family_name.eq(Some("Fuseau")),
            ))
            .execute(conn)
            .unwrap();
        assert_eq!(found(conn, Kind::Contact, "zoe.quenouille@"), none);
        assert_eq!(found(conn, Kind::Contact, "quenouill"), none);
        assert_eq!(
            found(conn, Kind::Contact, "zoe.fuseau@"),
            one(&["demo-request-001"])
        );
        diesel::delete(request_contacts::table.find("search-k1"))
            .execute(conn)
            .unwrap();
        assert_eq!(found(conn, Kind::Contact, "zoe.fuseau@"), none);

        // Éditeurs and staff accounts.
        diesel::update(editeurs::table)
            .filter(editeurs::name.eq("Mushroom Software"))
            .set(editeurs::name.eq("Champignon Logiciels"))
            .execute(conn)
            .unwrap();
        assert_eq!(found(conn, Kind::Editeur, "mushroom"), none);
        assert_eq!(found(conn, Kind::Editeur, "champignon").len(), 1);
        let now = qf_backoffice::db::now();
        diesel::insert_into(staff_members::table)
            .values((
                staff_members::id.eq("search-s1"),
                staff_members::email.eq("agathe.quenouille@beta.gouv.fr"),
                staff_members::role.eq("instructeur"),
                staff_members::created_at.eq(now),
                staff_members::created_by.eq("test"),
            ))
            .execute(conn)
            .unwrap();
        assert_eq!(found(conn, Kind::Staff, "agathe.quen"), one(&["search-s1"]));
        diesel::delete(staff_members::table.find("search-s1"))
            .execute(conn)
            .unwrap();
        assert_eq!(found(conn, Kind::Staff, "agathe.quen"), none);
    })
    .await;
}

/// Id, name, SIRET, commune code and postal code of a collectivité.
type CollectiviteText = (String, String, String, Option<String>, Option<String>);

/// The old semantics, written the slow and obvious way: name (accents and case ignored),
/// SIRET (spaces removed), commune code or postal code containing the text.
fn old_collectivites(conn: &mut DbConnection, q: &str) -> BTreeSet<String> {
    let rows: Vec<CollectiviteText> = collectivites::table
        .select((
            collectivites::id,
            collectivites::name,
            collectivites::siret,
            collectivites::cog,
            collectivites::postal_code,
        ))
        .load(conn)
        .unwrap();
    let text = fold(q.trim());
    let compact = text.replace(' ', "");
    rows.into_iter()
        .filter(|(_, name, siret, cog, postal)| {
            fold(name).contains(&text)
                || siret.contains(&compact)
                || cog.as_deref().is_some_and(|c| c.contains(&text))
                || postal.as_deref().is_some_and(|p| p.contains(&text))
        })
        .map(|(id, ..)| id)
        .collect()
}

/// The old contact semantics (e-mail containing the text) widened to names.
fn old_contacts(conn: &mut DbConnection, q: &str) -> BTreeSet<String> {
    let rows: Vec<(String, String, Option<String>, Option<String>)> = request_contacts::table
        .select((
            request_contacts::request_id,
            request_contacts::email,
            request_contacts::given_name,
            request_contacts::family_name,
        ))
        .load(conn)
        .unwrap();
    let text = fold(q.trim());
    rows.into_iter()
        .filter(|(_, email, given, family)| {
            fold(email).contains(&text)
                || given.as_deref().is_some_and(|g| fold(g).contains(&text))
                || family.as_deref().is_some_and(|f| fold(f).contains(&text))
        })
        .map(|(id, ..)| id)
        .collect()
}

#[tokio::test]
async fn the_index_equals_the_straightforward_query_on_the_demo_data() {
    let app = TestApp::spawn_with_demo().await;
    app.with_conn(|conn| {
        let (siret, name): (String, String) = collectivites::table
            .order(collectivites::siret.asc())
            .select((collectivites::siret, collectivites::name))
            .first(conn)
            .unwrap();
        let mut queries: Vec<String> = vec![
            "sai".into(),
            "SAINT".into(),
            "ville".into(),
            "sur".into(),
            "mairie".into(),
            "dupont".into(),
            "@".into(),
            ".fr".into(),
            "ent".into(),
            "zzzz".into(),
            "21".into(),
            "75".into(),
            siret[..2].to_owned(),
            siret[..5].to_owned(),
            format!("{} {}", &siret[..3], &siret[3..9]),
            name.clone(),
            fold(&name),
            name.to_uppercase(),
        ];
        queries.extend(name.split([' ', '-']).map(str::to_owned));
        let mut matched = 0;
        for q in &queries {
            let expected = old_collectivites(conn, q);
            assert_eq!(found(conn, Kind::Collectivite, q), expected, "{q:?}");
            // The list answers the same rows (count and first page).
            let page = qf_backoffice::models::collectivites::list(
                conn,
                &qf_backoffice::models::collectivites::Filters {
                    q: q.clone(),
                    ..Default::default()
                },
                1,
                &Default::default(),
            )
            .unwrap();
            assert_eq!(page.total, expected.len() as i64, "{q:?}");
            assert!(page.items.iter().all(|c| expected.contains(&c.id)), "{q:?}");
            matched += expected.len();
            if !q.contains(' ') {
                assert_eq!(
                    found(conn, Kind::Contact, q),
                    old_contacts(conn, q),
                    "contacts {q:?}"
                );
            }
        }
        assert!(matched > 0, "the queries find something");
    })
    .await;
}

#[tokio::test]
async fn lists_and_staff_search_ignore_case_and_accents_and_find_siret_prefixes() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    app.with_conn(|conn| {
        insert_collectivite(conn, "search-c2", "99999999900029", "Béziers-Lagarde");
    })
    .await;
    for q in ["beziers-lag", "BÉZIERS-LAG", "Beziers-Lag"] {
        let (status, html) = staff.get_text(&format!("/collectivites?q={q}")).await;
        assert_eq!(status, 200);
        assert!(html.contains("Béziers-Lagarde"), "{q}");
        let (status, html) = staff.get_text(&format!("/recherche?q={q}")).await;
        assert_eq!(status, 200);
        assert!(
            html.replace("&#x2F;", "/")
                .contains("/collectivites/search-c2"),
            "{q}"
        );
    }
    // A SIRET prefix (2 digits, then 9 written in groups) finds the collectivité.
    for q in ["99", "999999999", "999%20999%20999"] {
        let (status, html) = staff.get_text(&format!("/recherche?q={q}")).await;
        assert_eq!(status, 200);
        assert!(
            html.replace("&#x2F;", "/")
                .contains("/collectivites/search-c2"),
            "{q}"
        );
        let (_, html) = staff.get_text(&format!("/collectivites?q={q}")).await;
        assert!(html.contains("Béziers-Lagarde"), "{q}");
    }
    // Two characters: a substring in the lists.
    let (_, html) = staff.get_text("/collectivites?q=ga").await;
    assert!(html.contains("Béziers-Lagarde"));
}

#[tokio::test]
async fn fts_syntax_in_a_query_is_plain_text_never_an_error() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    app.with_conn(|conn| {
        insert_collectivite(
            conn,
            "search-c3",
            "99999999900037",
            "Les \"Trois\" OR NEAR(x)* -Puits",
        );
    })
    .await;
    let hostile = [
        "\"",
        "\"\"",
        "*",
        "-",
        "OR",
        "NEAR(",
        "a\"b",
        "sai*",
        "-saint",
        "saint OR paris",
        "NEAR(saint paris)",
        "NOT saint",
        "col:saint",
        "^sai",
        "%_\\",
        "'; DROP TABLE collectivites; --",
    ];
    for q in hostile {
        let encoded = url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>();
        for path in [
            "/recherche",
            "/collectivites",
            "/instruction",
            "/jetons",
            "/abonnements",
            "/editeurs",
        ] {
            let (status, _) = staff.get_text(&format!("{path}?q={encoded}")).await;
            assert_eq!(status, 200, "{path}?q={q}");
        }
    }
    // The syntax characters are searched as text.
    app.with_conn(|conn| {
        for q in ["\"Trois\" OR NEAR(", "NEAR(x)*", "* -Puits", "OR NEAR"] {
            assert_eq!(
                found(conn, Kind::Collectivite, q),
                ["search-c3".to_owned()].into_iter().collect(),
                "{q}"
            );
        }
        assert!(found(conn, Kind::Collectivite, "sai*").is_empty());
    })
    .await;
    let (_, html) = staff.get_text("/collectivites?q=NEAR%28x%29*").await;
    assert!(html.contains("Les &quot;Trois&quot; OR NEAR(x)* -Puits"));
}

#[tokio::test]
async fn a_list_search_found_in_more_documents_than_the_cap_says_the_list_is_partial() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let cap = search::LIST_CAP as usize;
    app.with_conn(move |conn| {
        for i in 0..cap + 5 {
            insert_collectivite(
                conn,
                &format!("cap-{i:05}"),
                &format!("9{i:013}"),
                &format!("Capvillars {i:05}"),
            );
        }
    })
    .await;
    let (status, html) = staff.get_text("/collectivites?q=capvillars").await;
    assert_eq!(status, 200);
    assert!(html.contains("Recherche très large"), "banner shown");
    // The list counts what the first documents point to: the cap, not every match.
    let total = html
        .split("data-testid=\"collectivites-total\">")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<usize>().ok());
    assert_eq!(total, Some(cap));
    // A text found in fewer documents gives the whole list, without the banner.
    let (status, html) = staff.get_text("/collectivites?q=capvillars%2000017").await;
    assert_eq!(status, 200);
    assert!(!html.contains("Recherche très large"));
    assert!(html.contains("Capvillars 00017"));
    // The other lists say it too (tokens, subscriptions, queue: none of these collectivités
    // has any, so the lists are empty, and partial).
    for path in ["/jetons", "/abonnements", "/instruction"] {
        let (status, html) = staff.get_text(&format!("{path}?q=capvillars")).await;
        assert_eq!(status, 200, "{path}");
        assert!(html.contains("Recherche très large"), "{path}");
    }
    // No match at all: an empty list, no banner, no error.
    let (status, html) = staff.get_text("/instruction?q=D999999").await;
    assert_eq!(status, 200);
    assert!(!html.contains("Recherche très large"));
}

#[tokio::test]
async fn an_editeur_search_is_never_capped_its_own_clients_all_show() {
    let app = TestApp::spawn_with_demo().await;
    let editeur = app.signed_in(crate::editeur_api::MUSHROOM).await;
    let (_, html) = editeur.get_text("/editeur").await;
    let marker = "data-client=\"";
    let start = html.find(marker).expect("a client") + marker.len();
    let client_siret = html[start..start + 14].to_owned();
    let cap = search::LIST_CAP as usize;
    app.with_conn(move |conn| {
        for i in 0..cap + 5 {
            insert_collectivite(
                conn,
                &format!("cap-{i:05}"),
                &format!("9{i:013}"),
                &format!("Capvillars {i:05}"),
            );
        }
        // Indexed after the 1 005 others: beyond the cap of a staff list.
        insert_collectivite(conn, "cap-client", "99999999900037", "Capvillars Client");
        let old: String = collectivites::table
            .filter(collectivites::siret.eq(&client_siret))
            .select(collectivites::id)
            .first(conn)
            .unwrap();
        diesel::update(
            qf_backoffice::db::schema::habilitation_requests::table
                .filter(qf_backoffice::db::schema::habilitation_requests::collectivite_id.eq(old)),
        )
        .set(qf_backoffice::db::schema::habilitation_requests::collectivite_id.eq("cap-client"))
        .execute(conn)
        .unwrap();
    })
    .await;
    let (status, html) = editeur.get_text("/editeur?q=capvillars").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("data-client=\"99999999900037\""),
        "its client shows"
    );
    assert!(!html.contains("Capvillars 00001"), "only its own clients");
}

#[tokio::test]
async fn a_batch_indexes_what_it_touched_once_before_its_commit() {
    let app = TestApp::spawn_with_demo().await;
    let sqlite = !app.db.is_postgres();
    app.with_conn(move |conn| {
        let one = |ids: &[&str]| ids.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
        let none = BTreeSet::new();
        // A collectivité indexed before the batch, renamed inside it.
        let (old_id, old_name): (String, String) = collectivites::table
            .order(collectivites::id)
            .select((collectivites::id, collectivites::name))
            .first(conn)
            .unwrap();
        let old_text = fold(&old_name);
        assert!(found(conn, Kind::Collectivite, &old_text).contains(&old_id));
        let pending = |conn: &mut DbConnection| -> i64 {
            diesel::sql_query("SELECT count(*) AS n FROM search_pending")
                .get_result::<Count>(conn)
                .unwrap()
                .n
        };
        conn.transaction(|conn| {
            search::defer_indexing(conn)?;
            // New, then renamed; new, then deleted; indexed before, then renamed; a contact
            // indexed before, deleted; a new contact.
            insert_collectivite(conn, "search-d1", "99999999900011", "Pézenas-Quenouille");
            diesel::update(collectivites::table.find("search-d1"))
                .set(collectivites::name.eq("Pézenas-Rouet"))
                .execute(conn)?;
            insert_collectivite(conn, "search-d2", "99999999900029", "Agde-Quenouille");
            diesel::delete(collectivites::table.find("search-d2")).execute(conn)?;
            diesel::update(collectivites::table.find(&old_id))
                .set(collectivites::name.eq("Marseillan-Fuseau"))
                .execute(conn)?;
            let gone: Vec<String> = request_contacts::table
                .filter(request_contacts::request_id.eq("demo-request-001"))
                .filter(request_contacts::role.eq("contact_metier"))
                .select(request_contacts::email)
                .load(conn)?;
            diesel::delete(
                request_contacts::table
                    .filter(request_contacts::request_id.eq("demo-request-001"))
                    .filter(request_contacts::role.eq("contact_metier")),
            )
            .execute(conn)?;
            insert_contact(conn, "search-k2", "zoe.rouet@exemple.fr", "Rouetière");
            if sqlite {
                // Not indexed yet: the documents wait in the list.
                assert_eq!(found(conn, Kind::Collectivite, "pezenas-rou"), none);
                assert_eq!(found(conn, Kind::Contact, "rouetiere"), none);
                assert!(pending(conn) >= 4);
            }
            search::index_deferred(conn)?;
            for email in gone {
                assert!(
                    !found(conn, Kind::Contact, &email).contains("demo-request-001"),
                    "{email}"
                );
            }
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
        assert_eq!(
            found(conn, Kind::Collectivite, "pezenas-rouet"),
            one(&["search-d1"])
        );
        assert_eq!(found(conn, Kind::Collectivite, "pezenas-quen"), none);
        assert_eq!(found(conn, Kind::Collectivite, "agde-quen"), none);
        assert_eq!(
            found(conn, Kind::Collectivite, "marseillan-fus"),
            one(&[old_id.as_str()])
        );
        assert!(!found(conn, Kind::Collectivite, &old_text).contains(&old_id));
        assert_eq!(
            found(conn, Kind::Contact, "rouetiere"),
            one(&["demo-request-001"])
        );
        if sqlite {
            assert_eq!(pending(conn), 0);
            // Indexing is direct again after the batch.
            insert_collectivite(conn, "search-d3", "99999999900037", "Sète-Quenouille");
            assert_eq!(
                found(conn, Kind::Collectivite, "sete-quen"),
                one(&["search-d3"])
            );
            assert_eq!(pending(conn), 0);
        }
    })
    .await;
}

#[tokio::test]
async fn a_rolled_back_batch_leaves_indexing_direct_and_nothing_pending() {
    let app = TestApp::spawn_with_demo().await;
    let postgres = app.db.is_postgres();
    app.with_conn(move |conn| {
        let failed = conn.transaction(|conn| {
            search::defer_indexing(conn)?;
            insert_collectivite(conn, "search-r1", "99999999900011", "Florensac-Quenouille");
            Err::<(), _>(diesel::result::Error::RollbackTransaction)
        });
        assert!(failed.is_err());
        assert_eq!(
            found(conn, Kind::Collectivite, "florensac"),
            BTreeSet::new()
        );
        insert_collectivite(conn, "search-r2", "99999999900029", "Florensac-Rouet");
        assert_eq!(
            found(conn, Kind::Collectivite, "florensac"),
            ["search-r2".to_owned()]
                .into_iter()
                .collect::<BTreeSet<_>>()
        );
        // Without the switch's row (SQLite), indexing stays direct.
        if !postgres {
            use diesel::connection::SimpleConnection;
            conn.batch_execute("DELETE FROM search_deferral").unwrap();
            insert_collectivite(conn, "search-r3", "99999999900037", "Florensac-Fuseau");
            assert!(found(conn, Kind::Collectivite, "florensac-fus").contains("search-r3"));
        }
    })
    .await;
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// A text with spaces finds the documents holding it with its spaces. On PostgreSQL the
/// trigram index reads each space as `0` to pick documents out (its trigrams then span the
/// space); a document holding that `0` itself is not taken for one holding the space.
#[tokio::test]
async fn a_text_with_spaces_finds_it_with_its_spaces_only() {
    let app = TestApp::spawn_with_demo().await;
    app.with_conn(|conn| {
        insert_collectivite(conn, "space-1", "99999999900011", "Val Zébrure-Haute");
        insert_collectivite(conn, "space-2", "99999999900029", "Val0zébrure");
        // Two contacts renamed (one contact per request and role).
        let mut rename = |request: &str, family: &str| -> String {
            let contact = request_contacts::table
                .filter(request_contacts::request_id.eq(request))
                .filter(request_contacts::role.eq("contact_metier"))
                .select(request_contacts::id)
                .first::<String>(conn)
                .unwrap();
            diesel::update(request_contacts::table.find(&contact))
                .set(request_contacts::family_name.eq(Some(family)))
                .execute(conn)
                .unwrap();
            contact
        };
        let with_space = rename("demo-request-002", "Lou Zébrure");
        let with_zero = rename("demo-request-003", "Lou0zébrure");
        let sources = |conn: &mut DbConnection, kind: Kind, q: &str| -> BTreeSet<String> {
            search::documents(conn, kind, &search::parse(q).unwrap(), 1000)
                .unwrap()
                .into_iter()
                .map(|doc| doc.source_id)
                .collect()
        };
        let set = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        for q in ["val zebrure", "Val Zébrure-H", "al zeb"] {
            assert_eq!(found(conn, Kind::Collectivite, q), set(&["space-1"]), "{q}");
        }
        for q in ["val0zebrure", "l0z"] {
            assert_eq!(found(conn, Kind::Collectivite, q), set(&["space-2"]), "{q}");
        }
        assert_eq!(found(conn, Kind::Collectivite, "zebrure").len(), 2);
        for q in ["lou zebrure", "u zeb"] {
            assert_eq!(sources(conn, Kind::Contact, q), set(&[&with_space]), "{q}");
        }
        assert_eq!(
            sources(conn, Kind::Contact, "lou0zebrure"),
            set(&[&with_zero])
        );
    })
    .await;
}
