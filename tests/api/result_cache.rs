//! The results kept between views (`models::result_cache`): every table they read moves the
//! data version in the writing transaction, and a search or an éditeur's page shows a change
//! made behind the application's back (another instance, a script) on the very next view.

use diesel::prelude::*;
use qf_backoffice::db::DbConnection;
use qf_backoffice::db::schema::{collectivites, habilitation_requests, tokens};
use qf_backoffice::demo::DEMO_INSTRUCTEUR;
use qf_backoffice::models::counters;

use crate::helpers::TestApp;

/// The tables the cached results read (the triggers of migration `…000031`).
const READ_TABLES: [&str; 8] = [
    "collectivites",
    "habilitation_requests",
    "tokens",
    "hubee_subscriptions",
    "search_docs",
    "editeurs",
    "editeur_forms",
    "request_contacts",
];

fn version(conn: &mut DbConnection) -> i64 {
    counters::bucket(conn, counters::VERSIONS, counters::LISTS).unwrap()
}

#[tokio::test]
async fn a_write_to_any_table_a_result_reads_moves_the_version() {
    let app = TestApp::spawn_with_demo().await;
    app.with_conn(|conn| {
        for table in READ_TABLES {
            let key = "id";
            // The demo has rows in each: an update that changes nothing still moves it.
            let before = version(conn);
            let updated = diesel::sql_query(format!(
                "UPDATE {table} SET {key} = {key} WHERE {key} = \
                 (SELECT {key} FROM {table} ORDER BY {key} LIMIT 1)"
            ))
            .execute(conn)
            .unwrap();
            assert_eq!(updated, 1, "{table} has a row");
            assert!(version(conn) > before, "UPDATE {table}");
        }
        // Deletes too; a reminder's columns move nothing.
        let before = version(conn);
        diesel::sql_query(
            "DELETE FROM search_docs WHERE id = (SELECT id FROM search_docs ORDER BY id LIMIT 1)",
        )
        .execute(conn)
        .unwrap();
        assert!(version(conn) > before, "DELETE");
        let before = version(conn);
        diesel::sql_query("UPDATE tokens SET next_reminder_on = next_reminder_on")
            .execute(conn)
            .unwrap();
        assert_eq!(version(conn), before, "a reminder sweep keeps the results");
        // Several rows in one transaction: moved (PostgreSQL bumps once, at the commit).
        let before = version(conn);
        conn.transaction::<_, diesel::result::Error, _>(|conn| {
            diesel::sql_query("UPDATE collectivites SET name = name").execute(conn)?;
            diesel::sql_query("UPDATE editeurs SET name = name").execute(conn)?;
            Ok(())
        })
        .unwrap();
        assert!(version(conn) > before, "a transaction");
    })
    .await;
}

#[tokio::test]
async fn a_repeated_search_shows_a_change_made_behind_the_application_at_once() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let shows = |html: &str| html.contains("Quenouillac-sur-Orb");
    // Nothing yet, in the list and in the staff search (both kept now).
    let (_, html) = staff.get_text("/collectivites?q=quenouillac").await;
    assert!(!shows(&html));
    let (_, html) = staff.get_text("/recherche?q=quenouillac").await;
    assert!(!shows(&html));
    app.with_conn(|conn| {
        let now = qf_backoffice::db::now();
        diesel::insert_into(collectivites::table)
            .values((
                collectivites::id.eq("cache-c1"),
                collectivites::siret.eq("99999999900045"),
                collectivites::name.eq("Quenouillac-sur-Orb"),
                collectivites::kind.eq("commune"),
                collectivites::departement.eq(Some("34")),
                collectivites::active.eq(true),
                collectivites::had_hubee_account.eq(false),
                collectivites::created_at.eq(now),
                collectivites::updated_at.eq(now),
            ))
            .execute(conn)
            .unwrap();
    })
    .await;
    let (_, html) = staff.get_text("/collectivites?q=quenouillac").await;
    assert!(shows(&html), "the list sees the new collectivité");
    let (_, html) = staff.get_text("/recherche?q=quenouillac").await;
    assert!(shows(&html), "the staff search sees it");
    app.with_conn(|conn| {
        diesel::update(collectivites::table.find("cache-c1"))
            .set(collectivites::name.eq("Autrenom"))
            .execute(conn)
            .unwrap();
    })
    .await;
    let (_, html) = staff.get_text("/collectivites?q=quenouillac").await;
    assert!(!shows(&html), "renamed: gone from the list");
    let (_, html) = staff.get_text("/recherche?q=quenouillac").await;
    assert!(!shows(&html), "renamed: gone from the staff search");
}

#[tokio::test]
async fn the_queue_and_token_searches_follow_state_changes_at_once() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    // A pending request of the demo and its collectivité's name.
    let (request_id, name) = app
        .with_conn(|conn| {
            habilitation_requests::table
                .inner_join(collectivites::table)
                .filter(habilitation_requests::state.eq("submitted"))
                .order(habilitation_requests::id.asc())
                .select((habilitation_requests::id, collectivites::name))
                .first::<(String, String)>(conn)
                .unwrap()
        })
        .await;
    let q: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    let queue = format!("/instruction?q={q}");
    let (status, html) = staff.get_text(&queue).await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("data-request=\"{request_id}\"")));
    let moved = request_id.clone();
    app.with_conn(move |conn| {
        diesel::update(habilitation_requests::table.find(moved))
            .set(habilitation_requests::state.eq("validated"))
            .execute(conn)
            .unwrap();
    })
    .await;
    let (_, html) = staff.get_text(&queue).await;
    assert!(
        !html.contains(&format!("data-request=\"{request_id}\"")),
        "validated: no longer in the queue's search"
    );

    // Revoked tokens of a collectivité with tokens: one more after a revocation.
    let (token_id, name) = app
        .with_conn(|conn| {
            tokens::table
                .inner_join(collectivites::table)
                .filter(tokens::revoked_at.is_null())
                .order(tokens::id.asc())
                .select((tokens::id, collectivites::name))
                .first::<(String, String)>(conn)
                .unwrap()
        })
        .await;
    let q: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    let revoked = format!("/jetons?q={q}&statut=revoked");
    let (status, html) = staff.get_text(&revoked).await;
    assert_eq!(status, 200);
    assert!(!html.contains(&format!("/jetons/{token_id}")));
    let target = token_id.clone();
    app.with_conn(move |conn| {
        diesel::update(tokens::table.find(target))
            .set(tokens::revoked_at.eq(Some(qf_backoffice::db::now())))
            .execute(conn)
            .unwrap();
    })
    .await;
    let (_, html) = staff.get_text(&revoked).await;
    assert!(
        html.contains(&format!("/jetons/{token_id}")),
        "revoked: listed at once"
    );
}
