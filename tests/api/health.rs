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
