//! Benchmark of the renewal reminder sweep: 100 000 tokens, of which 1 000 then 10 000 are
//! due; prints the time each sweep takes and the query plan of the due-token selection.
//! Run with `cargo bench --bench reminders` (SQLite in a temporary file).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use chrono::NaiveDate;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use qf_backoffice::config::Settings;
use qf_backoffice::db::DbConnection;

const TOTAL: usize = 100_000;

fn seed(conn: &mut DbConnection, due: usize, today: NaiveDate) {
    conn.batch_execute(
        "DELETE FROM events; DELETE FROM outbox; DELETE FROM token_reminders; DELETE FROM tokens;",
    )
    .expect("reset");
    let due_expiry = today + chrono::Days::new(20);
    let far_expiry = today + chrono::Days::new(400);
    for start in (0..TOTAL).step_by(1000) {
        let values: Vec<String> = (start..start + 1000)
            .map(|i| {
                let expiry = if i < due { due_expiry } else { far_expiry };
                let next = qf_backoffice::domain::reminders::next_due_on(expiry, None)
                    .expect("a first reminder day");
                format!(
                    "('b-{i:06}', 'hab-b', 'col-b', 'quotient_familial', '2025-01-01 00:00:00', '{expiry}', '2025-01-01 00:00:00', '2025-01-01 00:00:00', '{next}')"
                )
            })
            .collect();
        conn.batch_execute(&format!(
            "INSERT INTO tokens (id, habilitation_id, collectivite_id, scopes, issued_at, expires_on, created_at, updated_at, next_reminder_on) VALUES {}",
            values.join(", ")
        ))
        .expect("tokens");
    }
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("bench.sqlite").display());
    let outbox = dir.path().join("outbox").display().to_string();
    let settings = Settings::from_lookup(|k| match k {
        "DATABASE_URL" => Some(url.clone()),
        "MAIL_OUTBOX_DIR" => Some(outbox.clone()),
        "DSFR_DOWNLOAD" => Some("0".into()),
        _ => None,
    })
    .expect("settings");
    let state = runtime
        .block_on(qf_backoffice::startup::build_state(settings))
        .expect("state");
    let mut conn = state.pool.get().expect("connection");
    conn.batch_execute(
        "INSERT INTO collectivites (id, siret, name, kind, active, had_hubee_account, created_at, updated_at) \
           VALUES ('col-b', '21690123000013', 'Bench-ville', 'commune', 1, 0, '2025-01-01 00:00:00', '2025-01-01 00:00:00'); \
         INSERT INTO habilitation_requests (id, collectivite_id, form_uid, state, reopening, scopes, created_at, updated_at) \
           VALUES ('req-b', 'col-b', 'formulaire-qf', 'validated', 0, 'qf', '2025-01-01 00:00:00', '2025-01-01 00:00:00'); \
         INSERT INTO request_contacts (id, request_id, role, email) VALUES ('cb1', 'req-b', 'demandeur', 'demandeur@bench.fr'); \
         INSERT INTO request_contacts (id, request_id, role, email) VALUES ('cb2', 'req-b', 'contact_technique', 'tech@bench.fr'); \
         INSERT INTO habilitations (id, request_id, collectivite_id, state, validated_at, created_at) \
           VALUES ('hab-b', 'req-b', 'col-b', 'active', '2025-01-01 00:00:00', '2025-01-01 00:00:00');",
    )
    .expect("world");

    #[derive(QueryableByName)]
    struct Plan {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }
    let today = NaiveDate::from_ymd_opt(2027, 1, 10).expect("date");
    let now = today.and_hms_opt(8, 0, 0).expect("time");
    for due in [1_000, 10_000] {
        seed(&mut conn, due, today);
        let plan: Vec<Plan> = diesel::sql_query(format!(
            "EXPLAIN QUERY PLAN SELECT id FROM tokens WHERE next_reminder_on <= '{today}' AND revoked_at IS NULL"
        ))
        .load(&mut conn)
        .expect("plan");
        let started = Instant::now();
        let report = qf_backoffice::jobs::reminders::sweep(&mut conn, &state, now).expect("sweep");
        let elapsed = started.elapsed();
        // A second sweep the same day: nothing due, only the index is read.
        let started_again = Instant::now();
        let again = qf_backoffice::jobs::reminders::sweep(&mut conn, &state, now).expect("sweep");
        let elapsed_again = started_again.elapsed();
        println!(
            "balayage de {TOTAL} jetons dont {due} dus : {} rappels en {:.0} ms ({:.2} ms par rappel) ; second balayage : {} rappel en {:.2} ms ; plan : {}",
            report.sent.len(),
            elapsed.as_secs_f64() * 1000.0,
            elapsed.as_secs_f64() * 1000.0 / due as f64,
            again.sent.len(),
            elapsed_again.as_secs_f64() * 1000.0,
            plan.iter()
                .map(|p| p.detail.as_str())
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
}
