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

    // A second load on a non-empty database changes nothing and says why.
    let again = app
        .with_conn(move |conn| demo_scale::load(conn, now, counts, &mut |_| {}).map(|_| ()))
        .await;
    assert!(again.unwrap_err().to_string().contains("base vide"));
}
