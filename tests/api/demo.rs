//! The demo data set: complete, consistent and deterministic.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use qf_backoffice::db::schema::{
    collectivites, editeur_forms, events, habilitation_requests, hubee_subscriptions,
    request_contacts, tokens,
};
use qf_backoffice::domain::hubee::SubscriptionStatus;
use qf_backoffice::domain::siret::Siret;
use qf_backoffice::domain::token::{TokenStatus, days_left, token_status};
use qf_backoffice::{db, demo};

use crate::helpers::TestDb;

fn loaded(now: NaiveDateTime) -> (TestDb, db::DbConnection) {
    let test_db = TestDb::new();
    let mut conn = test_db.connect();
    db::run_migrations(&mut conn).unwrap();
    let summary = demo::load_if_empty(&mut conn, now).unwrap().unwrap();
    assert!(summary.collectivites >= 45, "{summary}");
    (test_db, conn)
}

fn fixed_now() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, 21)
        .unwrap()
        .and_hms_opt(9, 30, 0)
        .unwrap()
}

#[test]
fn demo_data_covers_every_state_and_token_stage() {
    let now = fixed_now();
    let today = now.date();
    let (_db, mut conn) = loaded(now);

    let sirets: Vec<String> = collectivites::table
        .select(collectivites::siret)
        .load(&mut conn)
        .unwrap();
    assert!((45..=60).contains(&sirets.len()));
    for siret in &sirets {
        assert!(Siret::parse(siret).is_ok(), "{siret} is a valid SIRET");
    }

    let forms: i64 = editeur_forms::table.count().get_result(&mut conn).unwrap();
    assert!(forms >= 3);

    let rows: Vec<(NaiveDate, Option<NaiveDateTime>)> = tokens::table
        .select((tokens::expires_on, tokens::revoked_at))
        .load(&mut conn)
        .unwrap();
    let lefts: Vec<i64> = rows
        .iter()
        .filter(|(_, revoked)| revoked.is_none())
        .map(|(exp, _)| days_left(*exp, today))
        .collect();
    for wanted in [80, 25, 3] {
        assert!(lefts.contains(&wanted), "a token with {wanted} days left");
    }
    assert!(lefts.iter().any(|d| *d > 500), "a fresh token");
    assert!(lefts.iter().any(|d| *d < 0), "an expired token");
    for status in TokenStatus::ALL {
        assert!(
            rows.iter()
                .any(|(exp, revoked)| token_status(*exp, revoked.is_some(), today) == status),
            "a token {status:?}"
        );
    }

    let statuses: Vec<String> = hubee_subscriptions::table
        .select(hubee_subscriptions::status)
        .load(&mut conn)
        .unwrap();
    for status in SubscriptionStatus::ALL {
        assert!(statuses.iter().any(|s| s == status.as_str()), "{status:?}");
    }

    // Every request has a demandeur; validated requests have a token.
    let requests: Vec<String> = habilitation_requests::table
        .select(habilitation_requests::id)
        .load(&mut conn)
        .unwrap();
    for id in &requests {
        let demandeurs: i64 = request_contacts::table
            .filter(request_contacts::request_id.eq(id))
            .filter(request_contacts::role.eq("demandeur"))
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(demandeurs, 1, "request {id} has one demandeur");
    }
    let timeline: i64 = events::table.count().get_result(&mut conn).unwrap();
    assert!(timeline >= requests.len() as i64);
}

#[test]
fn demo_data_is_loaded_once_and_is_deterministic() {
    let now = fixed_now();
    let (_a, mut a) = loaded(now);
    let (_b, mut b) = loaded(now);
    assert!(
        demo::load_if_empty(&mut a, now).unwrap().is_none(),
        "a second load changes nothing"
    );

    let dump = |conn: &mut db::DbConnection| {
        let c: Vec<(String, String, String)> = collectivites::table
            .select((collectivites::id, collectivites::siret, collectivites::name))
            .order(collectivites::id)
            .load(conn)
            .unwrap();
        let t: Vec<(String, NaiveDate)> = tokens::table
            .select((tokens::id, tokens::expires_on))
            .order(tokens::id)
            .load(conn)
            .unwrap();
        let r: Vec<(String, String, Option<i64>)> = habilitation_requests::table
            .select((
                habilitation_requests::id,
                habilitation_requests::state,
                habilitation_requests::datapass_id,
            ))
            .order(habilitation_requests::id)
            .load(conn)
            .unwrap();
        let k: Vec<(String, String)> = request_contacts::table
            .select((request_contacts::id, request_contacts::email))
            .order(request_contacts::id)
            .load(conn)
            .unwrap();
        let e: Vec<String> = events::table
            .select(events::id)
            .order(events::id)
            .load(conn)
            .unwrap();
        format!("{c:?}{t:?}{r:?}{k:?}{e:?}")
    };
    assert_eq!(dump(&mut a), dump(&mut b));
}
