//! The results kept between views (`models::result_cache`): every table they read moves the
//! data version in the writing transaction, and a search or an éditeur's page shows a change
//! made behind the application's back (another instance, a script) on the very next view.

use diesel::prelude::*;
use qf_backoffice::db::DbConnection;
use qf_backoffice::db::schema::{
    collectivites, form_activations, habilitation_requests, hubee_provisioning,
    hubee_subscriptions, tokens,
};
use qf_backoffice::demo::{DEMO_EDITEUR_MEMBERS, DEMO_INSTRUCTEUR};
use qf_backoffice::models::counters;

use crate::helpers::TestApp;

/// The tables the cached results and pages read (the triggers of migrations `…000031` and
/// `…000032`), with the column updated to move the version.
const READ_TABLES: [(&str, &str); 11] = [
    ("collectivites", "id"),
    ("habilitation_requests", "id"),
    ("tokens", "id"),
    ("hubee_subscriptions", "id"),
    ("search_docs", "id"),
    ("editeurs", "id"),
    ("editeur_forms", "id"),
    ("request_contacts", "id"),
    ("habilitations", "id"),
    ("hubee_provisioning", "subscription_id"),
    ("form_activations", "collectivite_id"),
];

fn version(conn: &mut DbConnection) -> i64 {
    counters::bucket(conn, counters::VERSIONS, counters::LISTS).unwrap()
}

#[tokio::test]
async fn a_write_to_any_table_a_result_reads_moves_the_version() {
    let app = TestApp::spawn_with_demo().await;
    app.with_conn(|conn| {
        ensure_job_rows(conn);
        for (table, key) in READ_TABLES {
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
        // A job's bookkeeping (attempts, errors) moves nothing either.
        for table in ["hubee_provisioning", "form_activations"] {
            let before = version(conn);
            diesel::sql_query(format!(
                "UPDATE {table} SET attempts = attempts + 1, last_error = 'x'"
            ))
            .execute(conn)
            .unwrap();
            assert_eq!(version(conn), before, "bookkeeping of {table}");
        }
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

/// A provisioning job and a form activation (the demo may have none yet).
fn ensure_job_rows(conn: &mut DbConnection) {
    let now = qf_backoffice::db::now();
    let (subscription, collectivite): (String, String) = hubee_subscriptions::table
        .order(hubee_subscriptions::id.asc())
        .select((
            hubee_subscriptions::id,
            hubee_subscriptions::collectivite_id,
        ))
        .first(conn)
        .unwrap();
    diesel::delete(hubee_provisioning::table.find(&subscription))
        .execute(conn)
        .unwrap();
    diesel::insert_into(hubee_provisioning::table)
        .values((
            hubee_provisioning::subscription_id.eq(&subscription),
            hubee_provisioning::state.eq("pending"),
            hubee_provisioning::operation.eq("activate"),
            hubee_provisioning::attempts.eq(0),
            hubee_provisioning::next_attempt_at.eq(now),
            hubee_provisioning::updated_at.eq(now),
        ))
        .execute(conn)
        .unwrap();
    diesel::delete(form_activations::table.find(&collectivite))
        .execute(conn)
        .unwrap();
    diesel::insert_into(form_activations::table)
        .values((
            form_activations::collectivite_id.eq(&collectivite),
            form_activations::state.eq("pending"),
            form_activations::attempts.eq(0),
            form_activations::next_attempt_at.eq(now),
            form_activations::requested_at.eq(now),
            form_activations::updated_at.eq(now),
        ))
        .execute(conn)
        .unwrap();
}

/// The first value of `attribute` in `html` (`data-request="…"`).
fn first_attribute(html: &str, attribute: &str) -> Option<String> {
    let start = html.find(&format!("{attribute}=\""))? + attribute.len() + 2;
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

#[tokio::test]
async fn whole_list_pages_show_a_change_made_behind_the_application_at_once() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;

    // The queue's first page, viewed twice (kept), then its first request validated.
    let (status, html) = staff.get_text("/instruction").await;
    assert_eq!(status, 200);
    let request_id = first_attribute(&html, "data-request").expect("a pending request");
    let (_, again) = staff.get_text("/instruction").await;
    assert!(again.contains(&format!("data-request=\"{request_id}\"")));
    let moved = request_id.clone();
    app.with_conn(move |conn| {
        diesel::update(habilitation_requests::table.find(moved))
            .set(habilitation_requests::state.eq("validated"))
            .execute(conn)
            .unwrap();
    })
    .await;
    let (_, html) = staff.get_text("/instruction").await;
    assert!(
        !html.contains(&format!("data-request=\"{request_id}\"")),
        "validated: gone from the queue's page"
    );

    // The token list's first page: its first token revoked.
    let (_, html) = staff.get_text("/jetons").await;
    let token_id = first_attribute(&html, "data-token").expect("a token");
    assert!(!html.contains(&format!(
        "data-token=\"{token_id}\" data-status=\"revoked\""
    )));
    let target = token_id.clone();
    app.with_conn(move |conn| {
        diesel::update(tokens::table.find(target))
            .set(tokens::revoked_at.eq(Some(qf_backoffice::db::now())))
            .execute(conn)
            .unwrap();
    })
    .await;
    let (_, html) = staff.get_text("/jetons").await;
    assert!(
        html.contains(&format!(
            "data-token=\"{token_id}\" data-status=\"revoked\""
        )),
        "revoked: shown at once"
    );

    // The subscriptions' first page: a collectivité renamed.
    let (_, html) = staff.get_text("/abonnements").await;
    assert!(!html.contains("Renommée-par-script"));
    app.with_conn(|conn| {
        let first: String = hubee_subscriptions::table
            .inner_join(collectivites::table)
            .order((collectivites::name.asc(), hubee_subscriptions::id.asc()))
            .select(collectivites::id)
            .first(conn)
            .unwrap();
        diesel::update(collectivites::table.find(first))
            .set(collectivites::name.eq("AAA Renommée-par-script"))
            .execute(conn)
            .unwrap();
    })
    .await;
    let (_, html) = staff.get_text("/abonnements").await;
    assert!(html.contains("Renommée-par-script"), "renamed at once");
}

#[tokio::test]
async fn an_editeur_sees_a_form_put_online_behind_the_application_at_once() {
    let app = TestApp::spawn_with_demo().await;
    let (email, _) = DEMO_EDITEUR_MEMBERS[0];
    let member = app.signed_in(email).await;
    let (status, html) = member.get_text("/editeur").await;
    assert_eq!(status, 200);
    let siret = first_attribute(&html, "data-client").expect("a client");
    let row = |html: &str| {
        let start = html.find(&format!("data-client=\"{siret}\"")).unwrap();
        let end = html[start..].find("</tr>").unwrap() + start;
        html[start..end].to_owned()
    };
    assert!(
        !row(&html).contains("data-form-live=\"oui\""),
        "{}",
        row(&html)
    );
    let (_, again) = member.get_text("/editeur").await;
    assert_eq!(row(&again), row(&html), "kept between views");
    let client = siret.clone();
    app.with_conn(move |conn| {
        let now = qf_backoffice::db::now();
        let id: String = collectivites::table
            .filter(collectivites::siret.eq(client))
            .select(collectivites::id)
            .first(conn)
            .unwrap();
        diesel::delete(form_activations::table.find(&id))
            .execute(conn)
            .unwrap();
        diesel::insert_into(form_activations::table)
            .values((
                form_activations::collectivite_id.eq(&id),
                form_activations::state.eq(qf_backoffice::provisioning::DONE),
                form_activations::attempts.eq(1),
                form_activations::next_attempt_at.eq(now),
                form_activations::requested_at.eq(now),
                form_activations::updated_at.eq(now),
                form_activations::live.eq(Some(true)),
            ))
            .execute(conn)
            .unwrap();
    })
    .await;
    let (_, html) = member.get_text("/editeur").await;
    assert!(
        row(&html).contains("data-form-live=\"oui\""),
        "online at once: {}",
        row(&html)
    );

    // Its fiche, seen by the team: a client request's state changed by a script.
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let editeur_id: String = app
        .with_conn(move |conn| {
            qf_backoffice::db::schema::editeur_members::table
                .filter(qf_backoffice::db::schema::editeur_members::email.eq(email))
                .select(qf_backoffice::db::schema::editeur_members::editeur_id)
                .first(conn)
                .unwrap()
        })
        .await;
    let fiche = format!("/editeurs/{editeur_id}");
    let (status, html) = staff.get_text(&fiche).await;
    assert_eq!(status, 200);
    let before = html.matches("Refusée").count();
    let target = editeur_id.clone();
    app.with_conn(move |conn| {
        diesel::update(
            habilitation_requests::table.filter(habilitation_requests::editeur_id.eq(target)),
        )
        .set(habilitation_requests::state.eq("refused"))
        .execute(conn)
        .unwrap();
    })
    .await;
    let (_, html) = staff.get_text(&fiche).await;
    assert!(
        html.matches("Refusée").count() > before,
        "the fiche shows the new states at once"
    );
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
