//! Property tests: 10 000 generated inputs each for the DataPass webhook parser, the SIRET, the
//! éditeur URL builder and the CSV import. None panics; every refusal is a clear error.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use qf_backoffice::domain::form_url::editeur_url;
use qf_backoffice::domain::siret::Siret;
use serde_json::{Value, json};

use crate::helpers::TestDb;

const CASES: u32 = 10_000;

fn runner() -> TestRunner {
    TestRunner::new(Config::with_cases(CASES))
}

/// Strings a hostile sender would try: empty, spaces, separators, markup, schemes, unicode.
fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_owned()),
        Just("javascript:alert(1)".to_owned()),
        Just("a@b.fr,c@d.fr".to_owned()),
        Just("<script>x</script>".to_owned()),
        Just("21690123000013".to_owned()),
        Just("35600000000048".to_owned()),
        Just("marie@ville.fr".to_owned()),
        "[0-9 ]{0,20}",
        "[a-z@.,;<> ]{0,30}",
        any::<String>(),
    ]
}

fn nasty_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        nasty_string().prop_map(Value::String),
        Just(json!([])),
        Just(json!({})),
        Just(json!(["a", 1, null])),
    ]
}

/// The paths of a valid payload a mutation may replace.
const PATHS: &[&[&str]] = &[
    &["event"],
    &["fired_at"],
    &["model_type"],
    &["model_id"],
    &["data"],
    &["data", "form_uid"],
    &["data", "data"],
    &["data", "data", "scopes"],
    &["data", "data", "cadre_juridique_url"],
    &["data", "data", "contact_technique_email"],
    &["data", "data", "contact_metier_email"],
    &["data", "organization"],
    &["data", "organization", "siret"],
    &["data", "organization", "insee_payload"],
    &["data", "applicant"],
    &["data", "applicant", "email"],
];

fn set_path(value: &mut Value, path: &[&str], new: Value) {
    let mut at = value;
    for key in &path[..path.len() - 1] {
        match at.get_mut(*key) {
            Some(next) => at = next,
            None => return,
        }
    }
    if let Some(object) = at.as_object_mut() {
        object.insert(path[path.len() - 1].to_owned(), new);
    }
}

/// A body: a valid payload with a few fields replaced, or raw bytes.
fn webhook_body() -> impl Strategy<Value = Vec<u8>> {
    let events = prop_oneof![
        Just("create"),
        Just("submit"),
        Just("approve"),
        Just("refuse"),
        Just("request_changes"),
        Just("reopen"),
        Just("archive"),
    ];
    let mutated = (
        events,
        1i64..40,
        proptest::collection::vec((0..PATHS.len(), nasty_value()), 0..4),
    )
        .prop_map(|(event, model_id, mutations)| {
            let mut body = crate::webhook::payload(
                event,
                model_id,
                1_790_000_000 + model_id,
                crate::webhook::SIRET,
            );
            for (path, value) in mutations {
                set_path(&mut body, PATHS[path], value);
            }
            body.to_string().into_bytes()
        });
    prop_oneof![
        8 => mutated,
        1 => proptest::collection::vec(any::<u8>(), 0..200),
        1 => nasty_string().prop_map(String::into_bytes),
    ]
}

#[test]
fn the_webhook_parser_never_panics_and_every_refusal_is_explained() {
    let test_db = TestDb::new();
    if test_db.is_postgres() {
        // The parser is the same on both; PostgreSQL would only make this slower.
        return;
    }
    let conn = std::cell::RefCell::new(test_db.connect());
    qf_backoffice::db::run_migrations(&mut conn.borrow_mut()).unwrap();
    let now = qf_backoffice::db::now();
    let applied = std::cell::Cell::new(0u32);
    runner()
        .run(&webhook_body(), |body| {
            let processed =
                qf_backoffice::instruction::datapass::receive(&mut conn.borrow_mut(), &body, now)
                    .unwrap();
            prop_assert!(processed.delivery_id.is_some(), "every delivery is logged");
            let answer = &processed.answer;
            prop_assert!(
                matches!(answer.status, 200 | 400 | 409 | 422),
                "status {}",
                answer.status
            );
            if answer.status == 200 {
                applied.set(applied.get() + 1);
            } else {
                let code = answer.error_code().unwrap_or_default();
                let message = answer.body["message"].as_str().unwrap_or_default();
                prop_assert!(!code.is_empty(), "{}", answer.body);
                prop_assert!(message.chars().count() >= 10, "{}", answer.body);
            }
            Ok(())
        })
        .unwrap();
    let applied = applied.get();
    assert!(applied > 100, "valid payloads get through too: {applied}");
}

#[test]
fn the_siret_parser_never_panics_and_explains_every_refusal() {
    let inputs = prop_oneof![
        "[0-9]{14}",
        "[0-9 ]{10,20}",
        "[0-9A-Za-z .-]{0,20}",
        any::<String>(),
    ];
    runner()
        .run(&inputs, |input| {
            match Siret::parse(&input) {
                Ok(siret) => {
                    prop_assert_eq!(siret.as_str().len(), 14);
                    prop_assert!(siret.as_str().bytes().all(|b| b.is_ascii_digit()));
                    prop_assert_eq!(Siret::parse(siret.as_str()).ok(), Some(siret.clone()));
                }
                Err(e) => prop_assert!(e.to_string().chars().count() >= 10),
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_editeur_url_builder_never_panics_and_keeps_the_query_under_control() {
    let siret = Siret::parse(crate::webhook::SIRET).unwrap();
    let inputs = (
        proptest::option::of(prop_oneof!["[A-Za-z0-9._:-]{1,130}", nasty_string()]),
        proptest::option::of(prop_oneof![
            "https://[a-z]{1,10}\\.fr/[a-z?&=#]{0,20}",
            "http://(localhost|127\\.0\\.0\\.1)(:[0-9]{2,5})?/[a-z]{0,10}",
            nasty_string(),
        ]),
        any::<bool>(),
    );
    runner()
        .run(&inputs, |(external_id, redirect_uri, allow)| {
            match editeur_url(
                "https://quotient-familial.numerique.gouv.fr",
                &siret,
                external_id.as_deref(),
                redirect_uri.as_deref(),
                allow,
            ) {
                Ok(url) => {
                    let parsed = url::Url::parse(&url).unwrap();
                    prop_assert_eq!(
                        parsed.host_str(),
                        Some("quotient-familial.numerique.gouv.fr")
                    );
                    prop_assert_eq!(parsed.path(), format!("/collectivites/{siret}"));
                    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
                    prop_assert!(pairs.len() <= 2);
                    if let Some(id) = &external_id {
                        prop_assert!(pairs.contains(&("external_id".to_owned(), id.clone())));
                    }
                    if let Some(uri) = &redirect_uri {
                        prop_assert!(pairs.contains(&("redirect_uri".to_owned(), uri.clone())));
                        prop_assert!(
                            uri.starts_with("https://") || (allow && uri.starts_with("http://"))
                        );
                    }
                }
                Err(e) => {
                    prop_assert!(!e.code().is_empty());
                    prop_assert!(e.to_string().chars().count() >= 20);
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_csv_import_never_panics_and_explains_every_rejection() {
    let cell = prop_oneof![
        Just("21690123000013".to_owned()),
        Just("Commune d'Exemple".to_owned()),
        Just("69123".to_owned()),
        Just("\"a;b\"".to_owned()),
        "[0-9 ]{0,16}",
        "[A-Za-zéè' -]{0,20}",
        any::<String>().prop_map(|s| s.chars().take(20).collect()),
    ];
    let line = proptest::collection::vec(cell, 0..6);
    let file = (
        prop_oneof![
            Just("siret;nom;cog;code_postal".to_owned()),
            Just("siret,nom".to_owned()),
            Just("nom;cog".to_owned()),
            "[a-z;,]{0,20}",
        ],
        prop_oneof![Just(";"), Just(",")],
        proptest::collection::vec(line, 0..8),
        prop_oneof![
            4 => Just(Vec::new()),
            1 => proptest::collection::vec(any::<u8>(), 0..40),
        ],
    )
        .prop_map(|(header, sep, lines, noise)| {
            let mut text = header;
            for line in lines {
                text.push('\n');
                text.push_str(&line.join(sep));
            }
            let mut bytes = text.into_bytes();
            bytes.extend(noise);
            bytes
        });
    runner()
        .run(&file, |bytes| {
            match qf_backoffice::import::parse(&bytes) {
                Ok(parsed) => {
                    for row in &parsed.rows {
                        prop_assert!(Siret::parse(row.siret.as_str()).is_ok());
                    }
                    for rejection in &parsed.rejections {
                        prop_assert!(rejection.line >= 2);
                        prop_assert!(rejection.reason.chars().count() >= 10, "{:?}", rejection);
                    }
                }
                Err(e) => prop_assert!(e.to_string().chars().count() >= 10),
            }
            Ok(())
        })
        .unwrap();
}
