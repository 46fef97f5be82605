//! The query shapes the national-scale lists depend on, checked against SQLite's plan: each
//! reads an index (never a scan of the whole table), from the columns the index carries.

use diesel::prelude::*;
use qf_backoffice::db;

use crate::helpers::TestDb;

#[derive(QueryableByName)]
struct Plan {
    #[diesel(sql_type = diesel::sql_types::Text)]
    detail: String,
}

/// SQLite's plan of `sql` on the migrated schema, one line per step; `None` on PostgreSQL,
/// whose plans depend on table statistics (the benchmark shows how it scales there).
fn plan(sql: &str) -> Option<Vec<String>> {
    plan_after("", sql)
}

/// [`plan`] after `setup` (SQL run on the migrated schema, such as planner statistics).
fn plan_after(setup: &str, sql: &str) -> Option<Vec<String>> {
    use diesel::connection::SimpleConnection;
    let test_db = TestDb::new();
    if test_db.is_postgres() {
        return None;
    }
    let mut conn = test_db.connect();
    db::run_migrations(&mut conn).unwrap();
    conn.batch_execute(setup).unwrap();
    let plan: Vec<Plan> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
        .load(&mut conn)
        .unwrap();
    Some(plan.into_iter().map(|p| p.detail).collect())
}

/// A step that reads a whole table (the JSON array of a search's matches aside).
fn scans_a_table(step: &str) -> bool {
    step.starts_with("SCAN") && !step.contains("json_each")
}

#[test]
fn the_subscription_search_reads_two_indexes_instead_of_every_subscription() {
    let Some(plan) = plan(
        "SELECT COUNT(*) FROM hubee_subscriptions \
         WHERE (hubee_subscriptions.collectivite_id IN (SELECT value FROM json_each('[\"a\",\"b\",\"c\"]')) \
             OR hubee_subscriptions.datapass_id = 42)",
    ) else {
        return;
    };
    assert!(plan.iter().all(|step| !scans_a_table(step)), "{plan:?}");
    assert!(
        plan.iter()
            .any(|step| step.contains("hubee_subscriptions_datapass_idx")),
        "{plan:?}"
    );
}

#[test]
fn an_editeurs_client_collectivites_are_read_from_covering_indexes() {
    // The set of client collectivités (its pages and its count): requests recorded for the
    // éditeur, and requests made through its forms recorded for no one or someone else.
    let Some(set) = plan(
        "SELECT COUNT(*) FROM collectivites WHERE collectivites.id IN (\
             SELECT client.collectivite_id FROM habilitation_requests AS client \
             WHERE client.editeur_id = 'e' \
             UNION ALL SELECT client.collectivite_id FROM editeur_forms AS form \
             JOIN habilitation_requests AS client ON client.form_uid = form.form_uid \
             WHERE form.editeur_id = 'e' \
             AND (client.editeur_id IS NULL OR client.editeur_id <> 'e'))",
    ) else {
        return;
    };
    for index in [
        "COVERING INDEX habilitation_requests_editeur_created_idx",
        "COVERING INDEX habilitation_requests_form_created_idx",
    ] {
        assert!(
            set.iter().any(|step| step.contains(index)),
            "{index}: {set:?}"
        );
    }
    // The probe of one collectivité while walking a large éditeur's clients in SIRET order.
    let Some(probe) = plan(
        "SELECT 1 FROM collectivites WHERE EXISTS (SELECT 1 FROM habilitation_requests AS client \
         WHERE client.collectivite_id = collectivites.id AND (client.editeur_id = 'e' \
         OR client.form_uid IN (SELECT form.form_uid FROM editeur_forms AS form \
         WHERE form.editeur_id = 'e')))",
    ) else {
        return;
    };
    assert!(
        probe
            .iter()
            .any(|step| step.contains("COVERING INDEX habilitation_requests_collectivite_idx")),
        "{probe:?}"
    );
}

#[test]
fn a_searched_subscription_list_is_ordered_from_covering_indexes() {
    // The ids of the subscriptions of the collectivités found, by collectivité name: no row of
    // either table is read (a text that is no DataPass number adds no `OR`).
    let Some(plan) = plan(
        "SELECT hubee_subscriptions.id FROM hubee_subscriptions \
         INNER JOIN collectivites ON collectivites.id = hubee_subscriptions.collectivite_id \
         WHERE hubee_subscriptions.collectivite_id IN (SELECT value FROM json_each('[\"a\",\"b\",\"c\"]')) \
         ORDER BY collectivites.name ASC, hubee_subscriptions.id ASC",
    ) else {
        return;
    };
    assert!(
        plan.iter()
            .any(|step| step.contains("COVERING INDEX hubee_subscriptions_collectivite_id_idx")),
        "{plan:?}"
    );
    assert!(
        plan.iter()
            .all(|step| !scans_a_table(step) && !step.contains("MULTI-INDEX OR")),
        "{plan:?}"
    );
    // The names come from `collectivites_id_name_idx` once the planner has statistics (the
    // national data set runs ANALYZE); on this empty database either index of `id` is used.
    assert!(
        plan.iter()
            .any(|step| step.starts_with("SEARCH collectivites USING")),
        "{plan:?}"
    );
}

#[test]
fn the_queue_search_reads_pending_requests_from_covering_partial_indexes() {
    // The requests of the matching collectivités, then the candidates in the queue's order
    // (`instruction::queue::list`): entries of the pending requests only, never their rows.
    let pending = "+habilitation_requests.state IN ('submitted', 'changes_requested')";
    // The planner's statistics of the national data set (`PRAGMA optimize` refreshes them when
    // the server starts): 132 000 requests, 14 600 of them pending.
    let national = "ANALYZE; DELETE FROM sqlite_stat1; \
        INSERT INTO sqlite_stat1 VALUES \
        ('habilitation_requests', NULL, '132000'), \
        ('habilitation_requests', 'sqlite_autoindex_habilitation_requests_1', '132000 1'), \
        ('habilitation_requests', 'habilitation_requests_state_idx', '132000 22000'), \
        ('habilitation_requests', 'habilitation_requests_collectivite_idx', '132000 4 2 2'), \
        ('habilitation_requests', 'habilitation_requests_queue_idx', '14600 7300 2 1 1'), \
        ('habilitation_requests', 'habilitation_requests_pending_collectivite_idx', \
         '14600 2 2 1 1 1 1 1'), \
        ('habilitation_requests', 'habilitation_requests_pending_id_idx', '14600 1 1 1 1 1 1'); \
        ANALYZE sqlite_schema;";
    for (sql, index) in [
        (
            format!(
                "SELECT habilitation_requests.id FROM habilitation_requests WHERE {pending} \
                 AND habilitation_requests.collectivite_id IN \
                 (SELECT value FROM json_each('[\"a\",\"b\"]'))"
            ),
            "habilitation_requests_pending_collectivite_idx",
        ),
        (
            format!(
                "SELECT habilitation_requests.id FROM habilitation_requests WHERE {pending} \
                 AND habilitation_requests.state = 'submitted' \
                 AND habilitation_requests.last_submitted_at < '2026-11-20' \
                 AND habilitation_requests.id IN (SELECT value FROM json_each('[\"a\",\"b\"]')) \
                 ORDER BY habilitation_requests.reopening DESC, \
                 habilitation_requests.last_submitted_at ASC, \
                 habilitation_requests.created_at ASC, habilitation_requests.id ASC"
            ),
            "habilitation_requests_pending_id_idx",
        ),
    ] {
        let Some(plan) = plan_after(national, &sql) else {
            return;
        };
        assert!(plan.iter().all(|step| !scans_a_table(step)), "{plan:?}");
        assert!(
            plan.iter()
                .any(|step| step.contains(&format!("COVERING INDEX {index}"))),
            "{plan:?}"
        );
    }
}
