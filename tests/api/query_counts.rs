//! SQL statements per page view, counted by diesel's connection instrumentation: the main
//! staff pages and the éditeur's client lists run the same number of statements on a small
//! and on a four times larger data set (no N+1: the count never grows with the rows shown),
//! and stay within a small budget.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once, OnceLock};

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::prelude::*;
use qf_backoffice::db::schema::editeur_members;
use qf_backoffice::demo_scale::{self, ScaleCounts};

use crate::helpers::{TestApp, Visitor};

/// Statements run, per database URL, by every connection opened since [`install`].
fn registry() -> &'static Mutex<HashMap<String, Arc<AtomicUsize>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Arc<AtomicUsize>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// A connection's instrumentation: learns its URL when it connects, then counts statements.
fn counting() -> Option<Box<dyn Instrumentation>> {
    let mut counter: Option<Arc<AtomicUsize>> = None;
    Some(Box::new(
        move |event: InstrumentationEvent<'_>| match event {
            InstrumentationEvent::StartEstablishConnection { url, .. } => {
                let mut registry = registry().lock().unwrap();
                counter = Some(registry.entry(url.to_owned()).or_default().clone());
            }
            InstrumentationEvent::StartQuery { .. } => {
                if let Some(counter) = &counter {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            }
            _ => {}
        },
    ))
}

/// Instruments every connection opened from now on (once per test process).
fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        diesel::connection::set_default_instrumentation(counting).expect("instrumentation set");
    });
}

/// Statements run so far on the database whose URL contains `needle`.
fn statements(needle: &str) -> usize {
    registry()
        .lock()
        .unwrap()
        .iter()
        .filter(|(url, _)| url.contains(needle))
        .map(|(_, n)| n.load(Ordering::SeqCst))
        .sum()
}

/// What identifies the app's database in a connection URL.
fn needle(app: &TestApp) -> String {
    match app.db.sqlite_path() {
        Some(path) => path.to_string_lossy().into_owned(),
        None => app.db.url.rsplit('/').next().unwrap_or_default().to_owned(),
    }
}

/// Statements of one view of `path` (the fewest of three views, so that a background job
/// running at the same moment is not counted).
async fn per_view(app: &TestApp, visitor: &Visitor, path: &str) -> usize {
    let needle = needle(app);
    let mut fewest = usize::MAX;
    for _ in 0..3 {
        let before = statements(&needle);
        let (status, _) = visitor.get_text(path).await;
        assert_eq!(status, 200, "{path}");
        fewest = fewest.min(statements(&needle) - before);
    }
    fewest
}

/// An app with the demo set and the scale set at `factor`; its staff and éditeur visitors
/// and the first generated éditeur (1 generated éditeur at 0.01, 3 at 0.03).
async fn scaled_app(factor: f64) -> (TestApp, Visitor, Visitor, String) {
    let app = TestApp::spawn().await;
    let now = qf_backoffice::db::now();
    let editeur_id = "5ca1e000-0001-4000-8000-000000000000".to_owned();
    let id = editeur_id.clone();
    let member: String = app
        .with_conn(move |conn| {
            demo_scale::load(conn, now, ScaleCounts::scaled(factor), &mut |_| {}).unwrap();
            editeur_members::table
                .filter(editeur_members::editeur_id.eq(&id))
                .select(editeur_members::email)
                .first(conn)
                .unwrap()
        })
        .await;
    let staff = app.signed_in(qf_backoffice::demo::DEMO_ADMIN).await;
    let editeur = app.signed_in(&member).await;
    (app, staff, editeur, editeur_id)
}

/// Most statements a page view may run (session, identity, the page's own queries).
const BUDGET: usize = 20;

#[tokio::test]
async fn staff_and_editeur_pages_run_a_fixed_number_of_statements() {
    install();
    let (small, small_staff, small_editeur, editeur_id) = scaled_app(0.01).await;
    let (large, large_staff, large_editeur, _) = scaled_app(0.03).await;
    let editeur_page = format!("/editeurs/{editeur_id}");
    let staff_pages = [
        "/",
        "/instruction",
        "/jetons",
        "/jetons?fenetre=90",
        "/collectivites",
        "/abonnements",
        "/editeurs",
        editeur_page.as_str(),
        "/tableau-de-bord",
    ];
    let mut report = Vec::new();
    for path in staff_pages {
        let few = per_view(&small, &small_staff, path).await;
        let many = per_view(&large, &large_staff, path).await;
        report.push(format!("{path}: {few} / {many}"));
        assert_eq!(
            few, many,
            "{path}: statements grow with the rows ({report:?})"
        );
        assert!(few <= BUDGET, "{path}: {few} statements ({report:?})");
    }
    for path in ["/", "/editeur"] {
        let few = per_view(&small, &small_editeur, path).await;
        let many = per_view(&large, &large_editeur, path).await;
        report.push(format!("éditeur {path}: {few} / {many}"));
        assert_eq!(
            few, many,
            "éditeur {path}: statements grow with the rows ({report:?})"
        );
        assert!(
            few <= BUDGET,
            "éditeur {path}: {few} statements ({report:?})"
        );
    }
    // The instrumentation does count: a page view runs at least its own query.
    assert!(
        per_view(&small, &small_staff, "/jetons").await >= 2,
        "{report:?}"
    );
}
