//! Embedded migrations run up, down and up again on the test backend.

use diesel::prelude::*;
use qf_backoffice::db;

use crate::helpers::TestDb;

fn table_count(conn: &mut db::DbConnection) -> QueryResult<i64> {
    use qf_backoffice::db::schema::collectivites;
    collectivites::table.count().get_result(conn)
}

#[test]
fn migrations_run_up_down_and_up_again() {
    let test_db = TestDb::new();
    let mut conn = test_db.connect();

    let applied = db::run_migrations(&mut conn).unwrap();
    assert!(!applied.is_empty());
    assert_eq!(table_count(&mut conn).unwrap(), 0);
    assert!(
        db::run_migrations(&mut conn).unwrap().is_empty(),
        "a second run applies nothing"
    );

    let reverted = db::revert_all_migrations(&mut conn).unwrap();
    assert_eq!(reverted.len(), applied.len());
    assert!(
        table_count(&mut conn).is_err(),
        "tables are gone after revert"
    );

    let again = db::run_migrations(&mut conn).unwrap();
    assert_eq!(again, applied);
    assert_eq!(table_count(&mut conn).unwrap(), 0);
}

#[test]
fn both_backends_have_the_same_migrations() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let names = |backend: &str| {
        let mut names: Vec<String> = std::fs::read_dir(root.join(backend))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names("sqlite"), names("postgres"));
    assert!(!names("sqlite").is_empty());
}

#[test]
fn sqlite_connections_enforce_foreign_keys_and_use_wal() {
    let dir = tempfile::tempdir().unwrap();
    let location = db::DatabaseLocation::Sqlite(dir.path().join("fk.sqlite"));
    let mut conn = db::establish(&location).unwrap();
    db::run_migrations(&mut conn).unwrap();

    #[derive(QueryableByName)]
    struct Mode {
        #[diesel(sql_type = diesel::sql_types::Text)]
        journal_mode: String,
    }
    let mode: Mode = diesel::sql_query("PRAGMA journal_mode")
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(mode.journal_mode.to_lowercase(), "wal");

    // A token pointing at no habilitation is refused.
    let err = diesel::sql_query(
        "INSERT INTO tokens (id, habilitation_id, collectivite_id, scopes, issued_at, expires_on, created_at, updated_at) \
         VALUES ('t', 'missing', 'missing', 'qf', '2026-01-01 00:00:00', '2027-07-01', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
    )
    .execute(&mut conn);
    assert!(err.is_err(), "foreign keys are enforced");
}
