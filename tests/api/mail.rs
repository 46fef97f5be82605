//! The outbox: a failing SMTP server loses nothing and doubles nothing; staff see and retry.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use qf_backoffice::db::schema::outbox;
use qf_backoffice::demo::{DEMO_ADMIN, DEMO_INSTRUCTEUR};
use qf_backoffice::mail::outbox as queue;

use crate::helpers::TestApp;
use crate::smtp::SmtpServer;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn statuses(app: &TestApp) -> Vec<(String, i32)> {
    app.with_conn(|conn| {
        outbox::table
            .order(outbox::created_at)
            .select((outbox::status, outbox::attempts))
            .load(conn)
            .unwrap()
    })
    .await
}

async fn wait_until(app: &TestApp, what: &str, check: impl Fn(&[(String, i32)]) -> bool) {
    let started = Instant::now();
    loop {
        let rows = statuses(app).await;
        if check(&rows) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn mails_queued_while_smtp_is_down_are_delivered_once_when_it_is_back() {
    let port = free_port();
    let url = format!("smtp://127.0.0.1:{port}");
    let app = TestApp::spawn_with(&[
        ("SMTP_URL", &url),
        ("MAIL_RETRY_DELAY", "0.2"),
        ("MAIL_POLL_INTERVAL", "0.1"),
        ("MAIL_MAX_ATTEMPTS", "100"),
    ])
    .await;
    app.load_demo().await;

    // Five sign-in links requested while nothing listens on the SMTP port.
    let senders = [
        DEMO_ADMIN,
        DEMO_INSTRUCTEUR,
        "equipe@mushroom-software.fr",
        "equipe@arpege-citoyen.fr",
        "api@mushroom-software.fr",
    ];
    for email in senders {
        let response = app
            .visitor()
            .post_form("/connexion", &[("email", email)])
            .await;
        assert_eq!(response.status().as_u16(), 200);
    }
    wait_until(&app, "a failed attempt on every mail", |rows| {
        rows.len() == 5 && rows.iter().all(|(s, a)| s == "queued" && *a >= 1)
    })
    .await;

    // The server comes back: every mail arrives, exactly once.
    let smtp = SmtpServer::start_on(port).await;
    smtp.wait_for(5, 30).await;
    wait_until(&app, "every mail sent", |rows| {
        rows.iter().all(|(s, _)| s == "sent")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let received = smtp.messages();
    assert_eq!(received.len(), 5, "no duplicate");
    let mut recipients: Vec<String> = received.iter().flat_map(|m| m.recipients.clone()).collect();
    recipients.sort();
    let mut expected: Vec<String> = senders.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(recipients, expected);
    let mut ids: Vec<String> = received.iter().map(|m| m.message_id()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5);
}

#[tokio::test]
async fn staff_see_failed_mails_and_retry_them() {
    let port = free_port();
    let url = format!("smtp://127.0.0.1:{port}");
    let app = TestApp::spawn_with(&[
        ("SMTP_URL", &url),
        ("MAIL_RETRY_DELAY", "0.1"),
        ("MAIL_POLL_INTERVAL", "0.1"),
        ("MAIL_MAX_ATTEMPTS", "2"),
    ])
    .await;
    app.load_demo().await;
    let response = app
        .visitor()
        .post_form("/connexion", &[("email", "equipe@arpege-citoyen.fr")])
        .await;
    assert_eq!(response.status().as_u16(), 200);
    wait_until(&app, "the mail to fail", |rows| {
        rows.len() == 1 && rows[0].0 == "failed"
    })
    .await;

    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let (status, list) = staff.get_text("/emails?statut=failed").await;
    assert_eq!(status, 200);
    assert!(list.contains("equipe@arpege-citoyen.fr"), "{list}");
    assert!(list.contains("data-status=\"failed\""));
    let id: String = app
        .with_conn(|conn| outbox::table.select(outbox::id).first(conn).unwrap())
        .await;
    let (_, detail) = staff.get_text(&format!("/emails/{id}")).await;
    assert!(detail.contains("Relancer l&#x27;envoi") || detail.contains("Relancer l'envoi"));
    assert!(
        !detail.contains("jeton="),
        "the sign-in link is never shown to staff"
    );

    let smtp = SmtpServer::start_on(port).await;
    let response = staff
        .post_form(&format!("/emails/{id}/relancer"), &[])
        .await;
    assert_eq!(response.status().as_u16(), 303);
    smtp.wait_for(1, 20).await;
    wait_until(&app, "the retried mail to be sent", |rows| {
        rows[0].0 == "sent"
    })
    .await;

    // Only failed mails can be retried.
    let response = staff
        .post_form(&format!("/emails/{id}/relancer"), &[])
        .await;
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(smtp.messages().len(), 1);
}

#[test]
fn a_claimed_mail_is_not_claimed_again_until_its_lock_expires() {
    let test_db = crate::helpers::TestDb::new();
    let mut conn = test_db.connect();
    qf_backoffice::db::run_migrations(&mut conn).unwrap();
    let now = qf_backoffice::db::now();
    let email = qf_backoffice::mail::NewEmail {
        template: "test".into(),
        to: vec!["a@b.fr".into()],
        cc: vec![],
        subject: "s".into(),
        text: "t".into(),
        html: "h".into(),
        related: None,
    };
    queue::enqueue(&mut conn, &email, now).unwrap();
    let lock = chrono::Duration::minutes(5);
    assert_eq!(queue::claim_due(&mut conn, now, lock, 10).unwrap().len(), 1);
    assert!(
        queue::claim_due(&mut conn, now, lock, 10)
            .unwrap()
            .is_empty()
    );
    // A sender that crashed mid-send: its claim expires and the mail is sent again.
    let later = now + chrono::Duration::minutes(6);
    assert_eq!(
        queue::claim_due(&mut conn, later, lock, 10).unwrap().len(),
        1
    );
}
