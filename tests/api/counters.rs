//! The counters the staff pages read (requests per state, HubEE subscriptions per status,
//! collectivités, tokens per expiry day, client requests per éditeur) stay equal to a real `COUNT` after every kind of
//! change: inserts, updates of the counted column, unrelated updates and deletes, through the
//! application's own functions and through plain SQL.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use qf_backoffice::db::DbConnection;
use qf_backoffice::db::schema::{
    collectivites, editeur_forms, editeurs, habilitation_requests, hubee_subscriptions, tokens,
};
use qf_backoffice::demo_scale::{self, ScaleCounts};
use qf_backoffice::domain::token::token_status;
use qf_backoffice::models::{counters, hubee, requests};

use crate::helpers::TestApp;

/// Compares every counter with a count of the rows themselves.
fn assert_counters_exact(
    conn: &mut DbConnection,
    choices: &qf_backoffice::models::ChoicesCache,
    summaries: &qf_backoffice::models::result_cache::ResultCache<
        qf_backoffice::models::tokens::Summary,
    >,
    today: NaiveDate,
    when: &str,
) {
    let by_state: Vec<(String, i64)> = habilitation_requests::table
        .group_by(habilitation_requests::state)
        .select((habilitation_requests::state, diesel::dsl::count_star()))
        .load(conn)
        .unwrap();
    let real: BTreeMap<String, i64> = by_state.into_iter().collect();
    let kept: BTreeMap<String, i64> = counters::buckets(conn, counters::REQUESTS)
        .unwrap()
        .into_iter()
        .filter(|(_, n)| *n != 0)
        .collect();
    assert_eq!(kept, real, "requests per state, {when}");
    for (state, n) in requests::count_by_state(conn).unwrap() {
        assert_eq!(n, real.get(state.as_str()).copied().unwrap_or(0), "{when}");
    }

    let by_status: Vec<(String, i64)> = hubee_subscriptions::table
        .group_by(hubee_subscriptions::status)
        .select((hubee_subscriptions::status, diesel::dsl::count_star()))
        .load(conn)
        .unwrap();
    let real: BTreeMap<String, i64> = by_status.into_iter().collect();
    let kept: BTreeMap<String, i64> = counters::buckets(conn, counters::HUBEE)
        .unwrap()
        .into_iter()
        .filter(|(_, n)| *n != 0)
        .collect();
    assert_eq!(kept, real, "HubEE subscriptions per status, {when}");
    for (status, n) in hubee::count_by_status(conn).unwrap() {
        assert_eq!(n, real.get(status.as_str()).copied().unwrap_or(0), "{when}");
    }

    // Client requests per éditeur: recorded for it, or made through one of its forms — the
    // plain filter, counted here over every request.
    let forms: Vec<(String, String)> = editeur_forms::table
        .select((editeur_forms::form_uid, editeur_forms::editeur_id))
        .load(conn)
        .unwrap();
    let links: Vec<(String, Option<String>)> = habilitation_requests::table
        .select((
            habilitation_requests::form_uid,
            habilitation_requests::editeur_id,
        ))
        .load(conn)
        .unwrap();
    let mut real: BTreeMap<String, i64> = BTreeMap::new();
    for editeur in editeurs::table
        .select(editeurs::id)
        .load::<String>(conn)
        .unwrap()
    {
        let n = links
            .iter()
            .filter(|(form, recorded)| {
                recorded.as_deref() == Some(editeur.as_str())
                    || forms.iter().any(|(f, e)| f == form && *e == editeur)
            })
            .count() as i64;
        if n > 0 {
            real.insert(editeur, n);
        }
    }
    let kept: BTreeMap<String, i64> = counters::client_requests(conn)
        .unwrap()
        .into_iter()
        .filter(|(_, n)| *n != 0)
        .collect();
    assert_eq!(kept, real, "client requests per éditeur, {when}");
    // One éditeur's counts, as its fiche reads them.
    for editeur in editeurs::table
        .select(editeurs::id)
        .load::<String>(conn)
        .unwrap()
    {
        let own_forms: Vec<String> = forms
            .iter()
            .filter(|(_, e)| *e == editeur)
            .map(|(f, _)| f.clone())
            .collect();
        let others = links
            .iter()
            .filter(|(form, recorded)| {
                recorded.as_deref() != Some(editeur.as_str()) && own_forms.contains(form)
            })
            .count() as i64;
        assert_eq!(
            counters::client_requests_of(conn, &editeur, &own_forms).unwrap(),
            (real.get(&editeur).copied().unwrap_or(0), others),
            "client requests of {editeur}, {when}"
        );
    }

    let mut real: Vec<String> = collectivites::table
        .filter(collectivites::departement.is_not_null())
        .select(collectivites::departement.assume_not_null())
        .distinct()
        .load(conn)
        .unwrap();
    real.sort();
    assert_eq!(
        qf_backoffice::models::collectivites::departements(conn).unwrap(),
        real,
        "départements, {when}"
    );

    // The filters' choices, as cached across the calls of one test, equal a fresh read.
    let editeur_names: Vec<(String, String)> = editeurs::table
        .order(editeurs::name.asc())
        .select((editeurs::id, editeurs::name))
        .load(conn)
        .unwrap();
    let cached = qf_backoffice::models::filter_choices(conn, choices).unwrap();
    assert_eq!(cached.editeurs, editeur_names, "éditeur choices, {when}");
    assert_eq!(cached.departements, real, "département choices, {when}");

    let real: i64 = collectivites::table.count().get_result(conn).unwrap();
    assert_eq!(
        qf_backoffice::models::collectivites::count(conn).unwrap(),
        real,
        "collectivités, {when}"
    );

    let all: Vec<(NaiveDate, Option<NaiveDateTime>)> = tokens::table
        .select((tokens::expires_on, tokens::revoked_at))
        .load(conn)
        .unwrap();
    let mut per_day: BTreeMap<(NaiveDate, bool), i64> = BTreeMap::new();
    for (day, revoked) in &all {
        *per_day.entry((*day, revoked.is_some())).or_default() += 1;
    }
    let kept: BTreeMap<(NaiveDate, bool), i64> = counters::token_days(conn, None, None)
        .unwrap()
        .into_iter()
        .map(|(day, revoked, n)| ((day, revoked), n))
        .collect();
    assert_eq!(kept, per_day, "tokens per expiry day, {when}");
    let mut per_month: BTreeMap<(NaiveDate, bool), i64> = BTreeMap::new();
    for (day, revoked) in &all {
        *per_month
            .entry((day.with_day(1).unwrap(), revoked.is_some()))
            .or_default() += 1;
    }
    let kept: BTreeMap<(NaiveDate, bool), i64> = {
        use qf_backoffice::db::schema::token_expiry_month_counts as m;
        m::table
            .filter(m::n.ne(0))
            .select((m::month, m::revoked, m::n))
            .load::<(NaiveDate, bool, i64)>(conn)
            .unwrap()
            .into_iter()
            .map(|(month, revoked, n)| ((month, revoked), n))
            .collect()
    };
    assert_eq!(kept, per_month, "tokens per expiry month, {when}");
    for (status, n) in qf_backoffice::models::tokens::count_by_status(conn, today).unwrap() {
        let real = all
            .iter()
            .filter(|(day, revoked)| token_status(*day, revoked.is_some(), today) == status)
            .count() as i64;
        assert_eq!(n, real, "tokens {status:?}, {when}");
    }
    // The token list's totals, for every window and status filter (and nonsense values).
    for fenetre in ["", "7", "30", "90", "abc", "3000000", "999999999999"] {
        for statut in ["", "expired", "revoked", "active", "autre"] {
            let filter = qf_backoffice::models::tokens::TokenFilter {
                fenetre: fenetre.to_owned(),
                statut: statut.to_owned(),
                ..Default::default()
            };
            let window_end = fenetre
                .parse::<u64>()
                .ok()
                .and_then(|d| today.checked_add_days(chrono::Days::new(d)));
            let real = all
                .iter()
                .filter(|(day, revoked)| {
                    let in_window = window_end
                        .is_none_or(|end| revoked.is_none() && *day >= today && *day <= end);
                    let in_status = match statut {
                        "expired" => revoked.is_none() && *day < today,
                        "revoked" => revoked.is_some(),
                        "active" => revoked.is_none() && *day >= today,
                        _ => true,
                    };
                    in_window && in_status
                })
                .count() as i64;
            let shown = qf_backoffice::models::tokens::list(
                conn,
                &filter,
                today,
                1,
                &Default::default(),
                None,
            )
            .unwrap()
            .total;
            assert_eq!(
                shown, real,
                "/jetons?fenetre={fenetre}&statut={statut}, {when}"
            );
            let summary =
                qf_backoffice::models::tokens::summary(conn, &filter, today, summaries).unwrap();
            assert_eq!(
                summary.total,
                Some(real),
                "kept count of /jetons?fenetre={fenetre}&statut={statut}, {when}"
            );
        }
    }
    let first = today.with_day(1).unwrap();
    let filter = qf_backoffice::models::tokens::TokenFilter::default();
    let kept = qf_backoffice::models::tokens::summary(conn, &filter, today, summaries).unwrap();
    let months = qf_backoffice::models::tokens::expiries_by_month(conn, today).unwrap();
    assert_eq!(kept.months, months, "kept month chart, {when}");
    for (month, n) in months {
        let real = all
            .iter()
            .filter(|(day, revoked)| {
                revoked.is_none()
                    && *day >= today
                    && day.format("%Y-%m").to_string() == month
                    && *day < first.checked_add_months(chrono::Months::new(18)).unwrap()
            })
            .count() as i64;
        assert_eq!(n, real, "expiries of {month}, {when}");
    }
}

#[tokio::test]
async fn counters_equal_real_counts_after_every_kind_of_change() {
    let app = TestApp::spawn().await;
    let now = qf_backoffice::db::now();
    let today = qf_backoffice::domain::calendar::paris_today();
    app.with_conn(move |conn| {
        let choices = qf_backoffice::models::ChoicesCache::default();
        // Kept across the changes below, as a running server keeps them.
        let summaries = qf_backoffice::models::result_cache::ResultCache::default();
        // An empty database: every counter is zero.
        assert_counters_exact(conn, &choices, &summaries, today, "on an empty database");
        demo_scale::load(conn, now, ScaleCounts::scaled(0.005), &mut |_| {}).unwrap();
        assert_counters_exact(conn, &choices, &summaries, today, "after the scale load");

        // Through the application's functions: a token prolonged, another revoked.
        let ids: Vec<String> = tokens::table
            .filter(tokens::revoked_at.is_null())
            .order(tokens::id.asc())
            .select(tokens::id)
            .limit(2)
            .load(conn)
            .unwrap();
        qf_backoffice::models::tokens::set_expiry(
            conn,
            &ids[0],
            today + chrono::Days::new(400),
            now,
        )
        .unwrap();
        diesel::update(tokens::table.find(&ids[1]))
            .set(tokens::revoked_at.eq(Some(now)))
            .execute(conn)
            .unwrap();
        assert_counters_exact(conn, &choices, &summaries, today, "after a prolongation and a revocation");
        // An update that does not touch the counted columns changes nothing.
        diesel::update(tokens::table.find(&ids[0]))
            .set(tokens::scopes.eq("quotient_familial"))
            .execute(conn)
            .unwrap();
        diesel::update(tokens::table.find(&ids[1]))
            .set(tokens::revoked_at.eq(Some(now + chrono::Duration::hours(1))))
            .execute(conn)
            .unwrap();
        assert_counters_exact(conn, &choices, &summaries, today, "after unrelated updates");

        // Plain SQL: copies inserted, counted columns changed, then deleted.
        let source: (String, String, String) = habilitation_requests::table
            .inner_join(collectivites::table)
            .order(habilitation_requests::id.asc())
            .select((
                habilitation_requests::id,
                collectivites::id,
                collectivites::siret,
            ))
            .first(conn)
            .unwrap();
        let (request, collectivite, _) = source;
        conn.batch_execute(&format!(
            "INSERT INTO collectivites (id, siret, name, kind, active, had_hubee_account, created_at, updated_at) \
             VALUES ('compteur-c', '99999999900018', 'Compteur', 'commune', TRUE, FALSE, '2026-01-01 00:00:00', '2026-01-01 00:00:00'); \
             INSERT INTO habilitation_requests (id, collectivite_id, form_uid, state, reopening, scopes, created_at, updated_at) \
             SELECT 'compteur-r', 'compteur-c', form_uid, 'draft', reopening, scopes, created_at, updated_at \
             FROM habilitation_requests WHERE id = '{request}'; \
             INSERT INTO hubee_subscriptions (id, collectivite_id, process_code, status, access_mode, notification_frequency, created_at, updated_at) \
             VALUES ('compteur-h', 'compteur-c', 'FormulaireQF', 'INACTIF', 'PORTAIL', 'Unitaire', '2026-01-01 00:00:00', '2026-01-01 00:00:00'); \
             INSERT INTO tokens (id, habilitation_id, collectivite_id, scopes, issued_at, expires_on, revoked_at, created_at, updated_at) \
             SELECT 'compteur-t', habilitation_id, collectivite_id, scopes, issued_at, '2031-02-03', NULL, created_at, updated_at \
             FROM tokens WHERE id = '{token}';",
            token = ids[0],
        ))
        .unwrap();
        assert_counters_exact(conn, &choices, &summaries, today, "after SQL inserts");
        conn.batch_execute(
            "UPDATE habilitation_requests SET state = 'submitted' WHERE id = 'compteur-r'; \
             UPDATE collectivites SET departement = '2A' WHERE id = 'compteur-c'; \
             UPDATE collectivites SET departement = '975' WHERE id = 'compteur-c'; \
             UPDATE editeurs SET name = 'AAA renommé' WHERE id = (SELECT max(id) FROM editeurs); \
             UPDATE habilitation_requests SET state = 'validated' WHERE id = 'compteur-r'; \
             UPDATE hubee_subscriptions SET status = 'ACTIF' WHERE id = 'compteur-h'; \
             UPDATE tokens SET expires_on = '2020-05-06' WHERE id = 'compteur-t';",
        )
        .unwrap();
        assert_counters_exact(conn, &choices, &summaries, today, "after SQL updates");
        // The request moves to an éditeur, then to another éditeur's form, then to none.
        let (form, owner): (String, String) = editeur_forms::table
            .order(editeur_forms::form_uid.asc())
            .select((editeur_forms::form_uid, editeur_forms::editeur_id))
            .first(conn)
            .unwrap();
        let other: String = editeurs::table
            .filter(editeurs::id.ne(&owner))
            .order(editeurs::id.asc())
            .select(editeurs::id)
            .first(conn)
            .unwrap();
        conn.batch_execute(&format!(
            "UPDATE habilitation_requests SET editeur_id = '{other}' WHERE id = 'compteur-r';"
        ))
        .unwrap();
        assert_counters_exact(conn, &choices, &summaries, today, "after the éditeur of a request is set");
        conn.batch_execute(&format!(
            "UPDATE habilitation_requests SET form_uid = '{form}' WHERE id = 'compteur-r';"
        ))
        .unwrap();
        assert_counters_exact(conn, &choices, &summaries, today, "after a request moved to another éditeur's form");
        conn.batch_execute(&format!(
            "UPDATE habilitation_requests SET editeur_id = '{owner}' WHERE id = 'compteur-r'; \
             UPDATE habilitation_requests SET editeur_id = NULL WHERE id = 'compteur-r';"
        ))
        .unwrap();
        assert_counters_exact(conn, &choices, &summaries, today, "after the éditeur of a request is removed");
        conn.batch_execute(
            "UPDATE tokens SET revoked_at = '2026-01-01 00:00:00', expires_on = '2032-01-01' WHERE id = 'compteur-t'; \
             UPDATE habilitation_requests SET state = state WHERE id = 'compteur-r'; \
             UPDATE collectivites SET departement = NULL WHERE id = 'compteur-c'; \
             UPDATE collectivites SET departement = '2B' WHERE id = 'compteur-c';",
        )
        .unwrap();
        assert_counters_exact(conn, &choices, &summaries, today, "after a two-column update and a no-op");
        conn.batch_execute(
            "DELETE FROM tokens WHERE id = 'compteur-t'; \
             DELETE FROM hubee_subscriptions WHERE id = 'compteur-h'; \
             DELETE FROM habilitation_requests WHERE id = 'compteur-r'; \
             DELETE FROM collectivites WHERE id = 'compteur-c';",
        )
        .unwrap();
        assert_counters_exact(conn, &choices, &summaries, today, "after SQL deletes");
        let _ = collectivite;

        // A rolled-back change leaves the counters as they were.
        let rolled_back = conn.transaction::<(), diesel::result::Error, _>(|conn| {
            diesel::update(habilitation_requests::table)
                .set(habilitation_requests::state.eq("archived"))
                .execute(conn)?;
            Err(diesel::result::Error::RollbackTransaction)
        });
        assert!(rolled_back.is_err());
        assert_counters_exact(conn, &choices, &summaries, today, "after a rollback");
    })
    .await;
}

#[tokio::test]
async fn staff_pages_show_the_counters() {
    let app = TestApp::spawn_with_demo().await;
    let admin = app.signed_in(qf_backoffice::demo::DEMO_ADMIN).await;
    let (requests, collectivite_count): (i64, i64) = app
        .with_conn(|conn| {
            (
                habilitation_requests::table
                    .filter(habilitation_requests::state.eq_any(["submitted", "changes_requested"]))
                    .count()
                    .get_result(conn)
                    .unwrap(),
                collectivites::table.count().get_result(conn).unwrap(),
            )
        })
        .await;
    let (status, html) = admin.get_text("/instruction").await;
    assert_eq!(status, 200);
    assert_eq!(
        number_after(&html, "data-testid=\"queue-total\">"),
        requests
    );
    let (status, html) = admin.get_text("/collectivites").await;
    assert_eq!(status, 200);
    assert_eq!(
        number_after(&html, "data-testid=\"collectivites-total\">"),
        collectivite_count
    );
}

/// The number that starts the text after `marker`.
fn number_after(html: &str, marker: &str) -> i64 {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in page"))
        + marker.len();
    let digits: String = html[start..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("a number after {marker}"))
}
