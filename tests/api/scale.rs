//! The national-scale data set, loaded at a small scale factor: every request state, tokens
//! expiring in every month of the next 18 and some expired or revoked, departements of
//! Corsica and overseas, and the demo accounts still able to sign in.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use qf_backoffice::db::schema::{collectivites, editeurs, habilitation_requests, tokens};
use qf_backoffice::demo_scale::{self, ScaleCounts};
use qf_backoffice::domain::request_state::RequestState;
use qf_backoffice::domain::siret::Siret;

use crate::helpers::TestApp;

#[tokio::test]
async fn scale_data_set_has_the_national_shape_and_demo_accounts_sign_in() {
    let app = TestApp::spawn().await;
    let counts = ScaleCounts::scaled(0.02);
    let now = qf_backoffice::db::now();
    let (summary, lines) = app
        .with_conn(move |conn| {
            let mut lines = Vec::new();
            let summary = demo_scale::load(conn, now, counts, &mut |l| lines.push(l.to_owned()))
                .expect("scale data loads");
            (summary, lines)
        })
        .await;
    assert_eq!(summary.collectivites, counts.collectivites);
    assert_eq!(summary.requests, counts.requests);
    assert!(lines.len() >= 5, "progress is shown: {lines:?}");
    assert!(summary.tokens * 4 >= summary.requests * 3, "{summary}");

    let (states, departements, sirets, expiries, editeur_count) = app
        .with_conn(|conn| {
            let states: Vec<String> = habilitation_requests::table
                .select(habilitation_requests::state)
                .distinct()
                .load(conn)
                .unwrap();
            let departements: Vec<Option<String>> = collectivites::table
                .select(collectivites::departement)
                .distinct()
                .load(conn)
                .unwrap();
            let sirets: Vec<String> = collectivites::table
                .select(collectivites::siret)
                .load(conn)
                .unwrap();
            let expiries: Vec<(NaiveDate, Option<NaiveDateTime>)> = tokens::table
                .select((tokens::expires_on, tokens::revoked_at))
                .load(conn)
                .unwrap();
            let editeur_count: i64 = editeurs::table.count().get_result(conn).unwrap();
            (states, departements, sirets, expiries, editeur_count)
        })
        .await;
    for state in RequestState::ALL {
        assert!(
            states.iter().any(|s| s == state.as_str()),
            "{state:?} present"
        );
    }
    let departements: BTreeSet<String> = departements.into_iter().flatten().collect();
    for wanted in ["2A", "2B", "971", "972", "973", "974", "976"] {
        assert!(
            departements.contains(wanted),
            "{wanted} in {departements:?}"
        );
    }
    let unique: BTreeSet<&String> = sirets.iter().collect();
    assert_eq!(unique.len(), sirets.len(), "SIRETs are unique");
    assert!(sirets.iter().all(|s| Siret::parse(s).is_ok()));
    assert_eq!(editeur_count as usize, 4 + counts.editeurs);

    // Tokens expire in each of the next 18 months, some have expired, some are revoked.
    let today = now.date();
    let month = |d: NaiveDate| d.year() * 12 + d.month0() as i32;
    let months: BTreeSet<i32> = expiries
        .iter()
        .filter(|(exp, revoked)| revoked.is_none() && *exp >= today)
        .map(|(exp, _)| month(*exp) - month(today))
        .collect();
    for m in 0..18 {
        assert!(
            months.contains(&m),
            "tokens expire in month +{m}: {months:?}"
        );
    }
    assert!(expiries.iter().any(|(exp, r)| r.is_none() && *exp < today));
    assert!(expiries.iter().any(|(_, r)| r.is_some()));

    // The demo accounts sign in as before, and the staff pages list the scale data.
    let admin = app.signed_in(qf_backoffice::demo::DEMO_ADMIN).await;
    for path in [
        "/",
        "/instruction",
        "/jetons",
        "/collectivites",
        "/abonnements",
    ] {
        let (status, _) = admin.get_text(path).await;
        assert_eq!(status, 200, "{path}");
    }
    let (status, body) = admin.get_text("/collectivites?q=CCAS").await;
    assert_eq!(status, 200);
    assert!(body.contains("CCAS de "), "a generated CCAS is found");

    // PostgreSQL: the trigram indexes set aside during the load are back, as the migrations
    // made them (SQLite's FTS tables are never set aside).
    let gin_indexes = app
        .with_conn(|conn| match conn {
            qf_backoffice::db::DbConnection::Postgresql(pg) => {
                #[derive(QueryableByName)]
                struct Count {
                    #[diesel(sql_type = diesel::sql_types::BigInt)]
                    n: i64,
                }
                let found: Count = diesel::sql_query(
                    "SELECT count(*) AS n FROM pg_indexes WHERE tablename = 'search_docs' \
                     AND indexdef LIKE '% USING gin %'",
                )
                .get_result(pg)
                .unwrap();
                Some(found.n)
            }
            qf_backoffice::db::DbConnection::Sqlite(_) => None,
        })
        .await;
    assert!(gin_indexes.is_none_or(|n| n == 3), "{gin_indexes:?}");
    // The loaded contacts are in the search index (a few dozen demo requests, hundreds here).
    let (status, body) = admin.get_text("/instruction?q=dpd@").await;
    assert_eq!(status, 200);
    let marker = "data-testid=\"queue-total\">";
    let after = &body[body.find(marker).expect("total shown") + marker.len()..];
    let total: usize = after[..after.find(' ').unwrap()].parse().unwrap();
    assert!(total > 100, "loaded contacts are searchable: {total}");

    // A second load on a non-empty database changes nothing and says why.
    let again = app
        .with_conn(move |conn| demo_scale::load(conn, now, counts, &mut |_| {}).map(|_| ()))
        .await;
    assert!(again.unwrap_err().to_string().contains("base vide"));
}

/// Every row of a searched list, page after page: (total shown, ids in order), and the
/// rows of a page far past the end (clamped to the last page).
async fn walk(
    staff: &crate::helpers::Visitor,
    path: &str,
    total_testid: &str,
    row_attr: &str,
) -> (usize, Vec<String>, Vec<String>) {
    let total_marker = format!("data-testid=\"{total_testid}\">");
    let row_marker = format!("<tr {row_attr}=\"");
    let rows_of = |body: &str| -> Vec<String> {
        body.split(row_marker.as_str())
            .skip(1)
            .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
            .collect()
    };
    let mut ids = Vec::new();
    let mut total = None;
    for number in 1..=200 {
        let (status, body) = staff.get_text(&format!("{path}&page={number}")).await;
        assert_eq!(status, 200, "{path} page {number}");
        let after = &body[body.find(&total_marker).expect("total shown") + total_marker.len()..];
        let shown: usize = after[..after.find(|c: char| !c.is_ascii_digit()).unwrap()]
            .parse()
            .unwrap();
        assert_eq!(
            *total.get_or_insert(shown),
            shown,
            "the same total on every page"
        );
        let rows = rows_of(&body);
        assert!(!rows.is_empty() || shown == 0, "{path} page {number}");
        ids.extend(rows);
        if ids.len() >= shown {
            break;
        }
    }
    let (_, body) = staff.get_text(&format!("{path}&page=9999")).await;
    (total.unwrap_or(0), ids, rows_of(&body))
}

#[tokio::test]
async fn searched_lists_count_and_page_every_match_once_in_order() {
    use qf_backoffice::db::schema::hubee_subscriptions;
    let app = TestApp::spawn().await;
    let now = qf_backoffice::db::now();
    app.with_conn(move |conn| {
        demo_scale::load(conn, now, ScaleCounts::scaled(0.02), &mut |_| {}).map(|_| ())
    })
    .await
    .expect("scale data loads");
    let staff = app.signed_in(qf_backoffice::demo::DEMO_ADMIN).await;
    let check = |what: &str, total: usize, ids: &[String], last: &[String]| {
        assert_eq!(ids.len(), total, "{what}: every match listed");
        assert_eq!(
            ids.iter().collect::<BTreeSet<_>>().len(),
            total,
            "{what}: no row twice"
        );
        assert!(
            ids.ends_with(last),
            "{what}: a page past the end shows the last one"
        );
    };

    // Tokens, by expiry then id.
    let (total, ids, last) = walk(&staff, "/jetons?q=saint", "tokens-total", "data-token").await;
    assert!(total > 30, "several pages of tokens: {total}");
    check("jetons", total, &ids, &last);
    let ordered: Vec<String> = app
        .with_conn({
            let ids = ids.clone();
            move |conn| {
                tokens::table
                    .filter(tokens::id.eq_any(&ids))
                    .order((tokens::expires_on.asc(), tokens::id.asc()))
                    .select(tokens::id)
                    .load(conn)
                    .unwrap()
            }
        })
        .await;
    assert_eq!(ids, ordered, "tokens in expiry order across pages");

    // Subscriptions, by collectivité name then id.
    let (total, ids, last) = walk(
        &staff,
        "/abonnements?q=saint",
        "subscriptions-total",
        "data-subscription",
    )
    .await;
    assert!(total > 30, "several pages of subscriptions: {total}");
    check("abonnements", total, &ids, &last);
    let ordered: Vec<String> = app
        .with_conn({
            let ids = ids.clone();
            move |conn| {
                hubee_subscriptions::table
                    .inner_join(collectivites::table)
                    .filter(hubee_subscriptions::id.eq_any(&ids))
                    .order((collectivites::name.asc(), hubee_subscriptions::id.asc()))
                    .select(hubee_subscriptions::id)
                    .load(conn)
                    .unwrap()
            }
        })
        .await;
    assert_eq!(ids, ordered, "subscriptions in name order across pages");

    // The queue, in its order (reopened first, then oldest submission).
    let (total, ids, last) = walk(
        &staff,
        "/instruction?q=saint",
        "queue-total",
        "data-request",
    )
    .await;
    assert!(total > 25, "several pages of pending requests: {total}");
    check("file", total, &ids, &last);
    let ordered: Vec<String> = app
        .with_conn({
            let ids = ids.clone();
            move |conn| {
                in_queue_order(
                    conn,
                    habilitation_requests::table
                        .filter(habilitation_requests::id.eq_any(ids))
                        .into_boxed(),
                )
            }
        })
        .await;
    assert_eq!(ids, ordered, "the queue's order across pages");
}

/// Unsearched lists read a page's ids from one table before joining them (so the last page is
/// as fast as the first): every row still shows once, in the list's order.
#[tokio::test]
async fn plain_lists_page_every_row_once_in_order() {
    let app = TestApp::spawn().await;
    let now = qf_backoffice::db::now();
    app.with_conn(move |conn| {
        demo_scale::load(conn, now, ScaleCounts::scaled(0.02), &mut |_| {}).map(|_| ())
    })
    .await
    .expect("scale data loads");
    let staff = app.signed_in(qf_backoffice::demo::DEMO_ADMIN).await;

    let (total, ids, last) = walk(&staff, "/jetons?fenetre=", "tokens-total", "data-token").await;
    let ordered: Vec<String> = app
        .with_conn(|conn| {
            tokens::table
                .order((tokens::expires_on.asc(), tokens::id.asc()))
                .select(tokens::id)
                .load(conn)
                .unwrap()
        })
        .await;
    assert!(total > 100, "many pages of tokens: {total}");
    assert_eq!(total, ordered.len());
    assert_eq!(ids, ordered, "every token once, in expiry order");
    assert!(
        ids.ends_with(&last),
        "a page past the end shows the last one"
    );

    let (total, ids, last) =
        walk(&staff, "/instruction?etat=", "queue-total", "data-request").await;
    let ordered: Vec<String> = app
        .with_conn(|conn| {
            in_queue_order(
                conn,
                habilitation_requests::table
                    .filter(habilitation_requests::state.eq_any(["submitted", "changes_requested"]))
                    .into_boxed(),
            )
        })
        .await;
    assert!(total > 50, "several pages of requests: {total}");
    assert_eq!(total, ordered.len());
    assert_eq!(
        ids, ordered,
        "every pending request once, in the queue's order"
    );
    assert!(
        ids.ends_with(&last),
        "a page past the end shows the last one"
    );
}

/// The ids of `requests` in the queue's order (reopenings first, then the oldest submission).
fn in_queue_order(
    conn: &mut qf_backoffice::db::DbConnection,
    requests: habilitation_requests::BoxedQuery<
        'static,
        <qf_backoffice::db::DbConnection as diesel::Connection>::Backend,
    >,
) -> Vec<String> {
    requests
        .order((
            habilitation_requests::reopening.desc(),
            habilitation_requests::last_submitted_at.asc(),
            habilitation_requests::created_at.asc(),
            habilitation_requests::id.asc(),
        ))
        .select(habilitation_requests::id)
        .load(conn)
        .unwrap()
}
