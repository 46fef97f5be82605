//! Renewal reminders: every stage on its day, the late-entry rule, a prolongation mid-series,
//! revocation, month ends; delivery through a real SMTP server; two concurrent processes and a
//! process killed mid-sweep never send twice nor lose one.

use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate, NaiveDateTime};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use qf_backoffice::db::schema::{outbox, token_reminders, tokens};
use qf_backoffice::db::{self, DbConnection};
use qf_backoffice::domain::reminders::next_due_on;
use qf_backoffice::jobs::reminders::sweep;

use crate::helpers::{TestApp, TestDb};
use crate::smtp::SmtpServer;

pub const DEMANDEUR: &str = "maire-adjointe@rappel-ville.fr";
pub const TECHNIQUE: &str = "jetons@editeur-rappel.fr";

/// One collectivité, one validated request with its contacts, one habilitation.
pub fn seed_world(conn: &mut DbConnection) {
    conn.batch_execute(&format!(
        "INSERT INTO collectivites (id, siret, name, kind, active, had_hubee_account, created_at, updated_at) \
           VALUES ('col-r', '21690123000013', 'Rappel-sur-Mer', 'commune', TRUE, FALSE, '2025-01-01 00:00:00', '2025-01-01 00:00:00'); \
         INSERT INTO habilitation_requests (id, datapass_id, collectivite_id, form_uid, state, reopening, scopes, created_at, updated_at) \
           VALUES ('req-r', 900, 'col-r', 'formulaire-qf', 'validated', FALSE, 'quotient_familial', '2025-01-01 00:00:00', '2025-01-01 00:00:00'); \
         INSERT INTO request_contacts (id, request_id, role, email) VALUES ('c1', 'req-r', 'demandeur', '{DEMANDEUR}'); \
         INSERT INTO request_contacts (id, request_id, role, email) VALUES ('c2', 'req-r', 'contact_technique', '{TECHNIQUE}'); \
         INSERT INTO habilitations (id, request_id, collectivite_id, state, validated_at, created_at) \
           VALUES ('hab-r', 'req-r', 'col-r', 'active', '2025-01-01 00:00:00', '2025-01-01 00:00:00');"
    ))
    .unwrap();
}

/// Inserts `count` tokens expiring on `expires_on`, their series not started, 500 per statement.
pub fn seed_tokens(conn: &mut DbConnection, prefix: &str, count: usize, expires_on: NaiveDate) {
    let next = next_due_on(expires_on, None)
        .map(|d| format!("'{d}'"))
        .unwrap_or_else(|| "NULL".into());
    for chunk_start in (0..count).step_by(500) {
        let values: Vec<String> = (chunk_start..(chunk_start + 500).min(count))
            .map(|i| {
                format!(
                    "('{prefix}-{i:06}', 'hab-r', 'col-r', 'quotient_familial', '2025-01-01 00:00:00', '{expires_on}', \
                      '2025-01-01 00:00:00', '2025-01-01 00:00:00', {next})"
                )
            })
            .collect();
        conn.batch_execute(&format!(
            "INSERT INTO tokens (id, habilitation_id, collectivite_id, scopes, issued_at, expires_on, created_at, updated_at, next_reminder_on) VALUES {}",
            values.join(", ")
        ))
        .unwrap();
    }
}

fn at(date: NaiveDate) -> NaiveDateTime {
    date.and_hms_opt(8, 0, 0).unwrap()
}

async fn sweep_on(app: &TestApp, date: NaiveDate) -> Vec<(String, u32, i64)> {
    let state = app.state.clone();
    app.with_conn(move |conn| {
        sweep(conn, &state, at(date))
            .unwrap()
            .sent
            .into_iter()
            .map(|s| (s.token_id, s.stage, s.days_left))
            .collect()
    })
    .await
}

async fn world(app: &TestApp, tokens_by_expiry: &[(&str, NaiveDate)]) {
    let tokens_by_expiry: Vec<(String, NaiveDate)> = tokens_by_expiry
        .iter()
        .map(|(p, d)| ((*p).to_owned(), *d))
        .collect();
    app.with_conn(move |conn| {
        seed_world(conn);
        for (prefix, expiry) in tokens_by_expiry {
            seed_tokens(conn, &prefix, 1, expiry);
        }
    })
    .await;
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

#[tokio::test]
async fn every_stage_is_sent_once_on_its_day_including_the_expiry_day() {
    let app = TestApp::spawn().await;
    let expiry = d(2027, 6, 30);
    world(&app, &[("t", expiry)]).await;
    let mut sent = Vec::new();
    let mut day = expiry.checked_sub_days(Days::new(100)).unwrap();
    while day <= expiry.checked_add_days(Days::new(10)).unwrap() {
        for (_, stage, left) in sweep_on(&app, day).await {
            sent.push((day, stage, left));
        }
        // A rerun the same day sends nothing more.
        assert!(sweep_on(&app, day).await.is_empty());
        day = day.succ_opt().unwrap();
    }
    let expected: Vec<(NaiveDate, u32, i64)> = [90u32, 60, 30, 15, 7, 0]
        .iter()
        .map(|s| {
            (
                expiry.checked_sub_days(Days::new(u64::from(*s))).unwrap(),
                *s,
                i64::from(*s),
            )
        })
        .collect();
    assert_eq!(sent, expected);
    let subjects: Vec<String> = app
        .with_conn(|conn| {
            outbox::table
                .order(outbox::created_at)
                .select(outbox::subject)
                .load(conn)
                .unwrap()
        })
        .await;
    assert_eq!(subjects.len(), 6);
    assert!(subjects[0].contains("expire dans 90 jours"));
    assert!(subjects[5].contains("expire aujourd'hui"));
}

#[tokio::test]
async fn a_token_entering_the_window_late_gets_only_the_latest_stage() {
    let app = TestApp::spawn().await;
    // First seen with 20 days left (e.g. imported): the 30-day reminder only.
    let expiry = d(2027, 3, 21);
    world(&app, &[("late", expiry)]).await;
    let first = sweep_on(&app, d(2027, 3, 1)).await;
    assert_eq!(
        first.iter().map(|s| (s.1, s.2)).collect::<Vec<_>>(),
        [(30, 20)]
    );
    assert!(sweep_on(&app, d(2027, 3, 5)).await.is_empty());
    assert_eq!(sweep_on(&app, d(2027, 3, 6)).await[0].1, 15);
    // The sweep missed a few days: only the latest due stage (expiry day), not 7.
    let after_gap = sweep_on(&app, d(2027, 3, 21)).await;
    assert_eq!(after_gap.iter().map(|s| s.1).collect::<Vec<_>>(), [0]);
    assert!(sweep_on(&app, d(2027, 3, 22)).await.is_empty());
}

#[tokio::test]
async fn a_prolongation_starts_a_new_series_and_a_revoked_token_gets_none() {
    let app = TestApp::spawn().await;
    let expiry = d(2027, 9, 30);
    world(&app, &[("p", expiry), ("r", expiry)]).await;
    let day = d(2027, 8, 31); // 30 days left
    let sent = sweep_on(&app, day).await;
    assert_eq!(sent.len(), 2);
    // Token p is prolonged the next day; token r is revoked.
    let new_expiry = qf_backoffice::domain::token::expiry_date(d(2027, 9, 1));
    app.with_conn(move |conn| {
        qf_backoffice::models::tokens::set_expiry(conn, "p-000000", new_expiry, at(d(2027, 9, 1)))
            .unwrap();
        diesel::update(tokens::table.find("r-000000"))
            .set((
                tokens::revoked_at.eq(Some(at(d(2027, 9, 1)))),
                tokens::next_reminder_on.eq(None::<NaiveDate>),
            ))
            .execute(conn)
            .unwrap();
    })
    .await;
    // Nothing until 90 days before the new expiry, for either token.
    let mut day = d(2027, 9, 1);
    let first_new = new_expiry.checked_sub_days(Days::new(90)).unwrap();
    let mut later = Vec::new();
    while day <= first_new {
        later.extend(
            sweep_on(&app, day)
                .await
                .into_iter()
                .map(|s| (day, s.0, s.1)),
        );
        day = day
            .checked_add_days(Days::new(3))
            .unwrap()
            .min(first_new.max(day.succ_opt().unwrap()));
        if later.len() > 1 {
            break;
        }
    }
    assert_eq!(later, [(first_new, "p-000000".to_owned(), 90)]);
    let claims: Vec<(String, NaiveDate, i32)> = app
        .with_conn(|conn| {
            token_reminders::table
                .order(token_reminders::claimed_at)
                .select((
                    token_reminders::token_id,
                    token_reminders::expires_on,
                    token_reminders::stage,
                ))
                .load(conn)
                .unwrap()
        })
        .await;
    assert_eq!(
        claims.iter().filter(|c| c.0 == "r-000000").count(),
        1,
        "no reminder after revocation"
    );
    assert!(claims.contains(&("p-000000".into(), expiry, 30)));
    assert!(claims.contains(&("p-000000".into(), new_expiry, 90)));
}

#[tokio::test]
async fn leap_day_and_month_end_expiries_get_their_reminders_on_the_right_days() {
    let app = TestApp::spawn().await;
    let leap = d(2028, 2, 29);
    let month_end = qf_backoffice::domain::token::expiry_date(d(2025, 8, 31));
    assert_eq!(month_end, d(2027, 2, 28));
    world(&app, &[("leap", leap), ("end", month_end)]).await;
    let mut days: Vec<(String, NaiveDate, u32)> = Vec::new();
    let mut day = d(2026, 11, 1);
    while day <= d(2028, 3, 10) {
        for (token, stage, _) in sweep_on(&app, day).await {
            days.push((token, day, stage));
        }
        day = day.succ_opt().unwrap();
    }
    let of = |prefix: &str| -> Vec<(NaiveDate, u32)> {
        days.iter()
            .filter(|(t, _, _)| t.starts_with(prefix))
            .map(|(_, d, s)| (*d, *s))
            .collect()
    };
    assert_eq!(
        of("leap"),
        [
            (d(2027, 12, 1), 90),
            (d(2027, 12, 31), 60),
            (d(2028, 1, 30), 30),
            (d(2028, 2, 14), 15),
            (d(2028, 2, 22), 7),
            (d(2028, 2, 29), 0)
        ]
    );
    assert_eq!(
        of("end"),
        [
            (d(2026, 11, 30), 90),
            (d(2026, 12, 30), 60),
            (d(2027, 1, 29), 30),
            (d(2027, 2, 13), 15),
            (d(2027, 2, 21), 7),
            (d(2027, 2, 28), 0)
        ]
    );
}

#[tokio::test]
async fn reminders_reach_a_real_smtp_server_with_the_editeur_in_copy_and_the_link() {
    let smtp = SmtpServer::start().await;
    let app =
        TestApp::spawn_with(&[("SMTP_URL", &smtp.url()), ("MAIL_POLL_INTERVAL", "0.2")]).await;
    let expiry = d(2027, 5, 20);
    world(&app, &[("mail", expiry)]).await;
    let sent = sweep_on(&app, d(2027, 4, 20)).await;
    assert_eq!(sent.len(), 1);
    app.state.mailer.notify();
    let mails = smtp.wait_for(1, 20).await;
    let mail = &mails[0];
    assert_eq!(mail.header("To").unwrap(), DEMANDEUR);
    assert_eq!(mail.header("Cc").unwrap(), TECHNIQUE);
    let mut recipients = mail.recipients.clone();
    recipients.sort();
    assert_eq!(recipients, [TECHNIQUE, DEMANDEUR]);
    assert!(
        mail.subject().contains("expire dans 30 jours"),
        "{}",
        mail.subject()
    );
    assert!(mail.subject().contains("Rappel-sur-Mer"));
    let text = mail.text();
    assert!(
        text.contains(&format!("{}/jetons/mail-000000/prolongation", app.address)),
        "{text}"
    );
    assert!(text.contains("20/05/2027"));
}

#[test]
fn the_due_token_selection_uses_the_next_reminder_index() {
    let test_db = TestDb::new();
    if test_db.is_postgres() {
        // The plan depends on table statistics there; the benchmark shows the scaling.
        return;
    }
    let mut conn = test_db.connect();
    db::run_migrations(&mut conn).unwrap();
    #[derive(QueryableByName)]
    struct Plan {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }
    let plan: Vec<Plan> = diesel::sql_query(
        "EXPLAIN QUERY PLAN SELECT id FROM tokens WHERE next_reminder_on <= '2027-01-01' AND revoked_at IS NULL",
    )
    .load(&mut conn)
    .unwrap();
    assert!(
        plan.iter()
            .any(|p| p.detail.contains("tokens_next_reminder_idx")),
        "{:?}",
        plan.iter().map(|p| &p.detail).collect::<Vec<_>>()
    );
}

// ---------------------------------------------------------------------------------------
// Processes

fn binary(db_url: &str, outbox_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_qf-backoffice"));
    command
        .env("DATABASE_URL", db_url)
        .env("MAIL_OUTBOX_DIR", outbox_dir)
        .env("DSFR_DOWNLOAD", "0")
        .env("RUST_LOG", "warn")
        .env_remove("SMTP_URL")
        .env("PUBLIC_URL", "https://qf.exemple.gouv.fr");
    command
}

fn prepare(count: usize) -> (TestDb, tempfile::TempDir, NaiveDate) {
    let test_db = TestDb::new();
    let mut conn = test_db.connect();
    db::run_migrations(&mut conn).unwrap();
    seed_world(&mut conn);
    let today = d(2027, 1, 10);
    seed_tokens(&mut conn, "bulk", count, d(2027, 1, 30)); // 20 days left: stage 30
    (test_db, tempfile::tempdir().unwrap(), today)
}

fn counts(conn: &mut DbConnection) -> (i64, i64, i64, i64) {
    let claims: i64 = token_reminders::table.count().get_result(conn).unwrap();
    let distinct: i64 = token_reminders::table
        .select(diesel::dsl::count(token_reminders::token_id).aggregate_distinct())
        .first(conn)
        .unwrap();
    let mails: i64 = outbox::table.count().get_result(conn).unwrap();
    let sent: i64 = outbox::table
        .filter(outbox::status.eq("sent"))
        .count()
        .get_result(conn)
        .unwrap();
    (claims, distinct, mails, sent)
}

#[test]
fn two_processes_sweeping_10000_due_tokens_at_once_send_each_reminder_once() {
    const N: usize = 10_000;
    let (test_db, outbox_dir, today) = prepare(N);
    let now = format!("{today}T08:00:00Z");
    let started = Instant::now();
    let children: Vec<_> = (0..2)
        .map(|_| {
            binary(&test_db.url, outbox_dir.path())
                .args(["reminders", "--now", &now])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let elapsed = started.elapsed();
    let mut queued_total = 0;
    for output in &outputs {
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{:?}\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let queued: usize = stdout
            .split(" : ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("summary line: {stdout}"));
        queued_total += queued;
    }
    let mut conn = test_db.connect();
    let (claims, distinct, mails, sent) = counts(&mut conn);
    let files = std::fs::read_dir(outbox_dir.path()).unwrap().count();
    println!(
        "2 processus, {N} jetons dus : {queued_total} rappels mis en file, {claims} réclamations ({distinct} jetons distincts), {mails} e-mails, {sent} envoyés, {files} fichiers .eml, en {:.1} s",
        elapsed.as_secs_f64()
    );
    assert_eq!(queued_total, N);
    assert_eq!(
        (claims, distinct, mails, sent),
        (N as i64, N as i64, N as i64, N as i64)
    );
    assert_eq!(files, N, "each e-mail delivered exactly once");
}

#[test]
fn a_sweep_killed_midway_then_rerun_loses_none_and_doubles_none() {
    const N: usize = 10_000;
    let (test_db, outbox_dir, today) = prepare(N);
    let now = format!("{today}T08:00:00Z");
    let mut child = binary(&test_db.url, outbox_dir.path())
        .args(["reminders", "--no-send", "--now", &now])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut conn = test_db.connect();
    let started = Instant::now();
    loop {
        let (claims, ..) = counts(&mut conn);
        if claims >= 400 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the sweep did not start"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // SIGKILL: no chance to clean up.
    child.kill().unwrap();
    child.wait().unwrap();
    let (at_kill, ..) = counts(&mut conn);
    assert!(
        at_kill < N as i64,
        "killed before the end ({at_kill} of {N})"
    );

    let status = binary(&test_db.url, outbox_dir.path())
        .args(["reminders", "--no-send", "--now", &now])
        .status()
        .unwrap();
    assert!(status.success());
    let (claims, distinct, mails, _) = counts(&mut conn);
    println!(
        "tué après {at_kill} rappels ; après reprise : {claims} réclamations, {distinct} jetons, {mails} e-mails"
    );
    assert_eq!((claims, distinct, mails), (N as i64, N as i64, N as i64));
    // Every claim has its e-mail, and no token is claimed twice for the same stage.
    let without_mail: i64 = token_reminders::table
        .filter(token_reminders::email_id.is_null())
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(without_mail, 0);
}
