//! `GET /health`.

use crate::helpers::TestApp;

#[tokio::test]
async fn health_is_ok_with_a_reachable_database() {
    let app = TestApp::spawn().await;
    let response = app.get("/health").await;
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok", "database": "ok"}));
}

#[tokio::test]
async fn health_is_503_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/health").await.status().as_u16(), 200);

    if app.db.is_postgres() {
        app.db.drop_postgres_now();
    } else {
        // An open SQLite file cannot be taken away from its connections; make it unusable
        // instead, from outside the application.
        use diesel::connection::SimpleConnection;
        app.db
            .connect()
            .batch_execute("DROP TABLE __diesel_schema_migrations")
            .unwrap();
    }

    let response = app.get("/health").await;
    assert_eq!(response.status().as_u16(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "error");
    assert_eq!(body["database"], "unreachable");
}

#[tokio::test]
async fn a_checkpoint_of_a_long_wal_starts_it_again_and_leaves_the_connection_patient() {
    use diesel::RunQueryDsl;
    use diesel::connection::SimpleConnection;
    #[derive(diesel::QueryableByName)]
    struct Wal {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        log: i64,
    }
    #[derive(diesel::QueryableByName)]
    struct Timeout {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        timeout: i64,
    }
    let app = TestApp::spawn().await;
    if app.db.is_postgres() {
        return;
    }
    app.with_conn(|conn| {
        // About 8 MB through the WAL: well over the 1 024 frames that call for a restart.
        conn.batch_execute(
            "CREATE TABLE wal_filler (b BLOB); \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
             INSERT INTO wal_filler SELECT randomblob(4000) FROM n;",
        )
        .unwrap();
        qf_backoffice::db::checkpoint(conn).unwrap();
        // The restart checkpoint waited 20 ms at most; the pooled connection waits as long
        // as before for its next lock.
        let timeout: Timeout = diesel::sql_query("PRAGMA busy_timeout")
            .get_result(conn)
            .unwrap();
        assert_eq!(timeout.timeout, 5000);
        // Copied back: the next write starts the WAL from its beginning.
        conn.batch_execute("INSERT INTO wal_filler VALUES (x'00')")
            .unwrap();
        let wal: Wal = diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)")
            .get_result(conn)
            .unwrap();
        assert!(wal.log < 100, "{} frames still in the WAL", wal.log);
    })
    .await;
}
