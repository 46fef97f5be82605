//! The layering rules of `src/`, read from the source so they stay true: `domain/` is pure
//! (it uses nothing of the crate outside `domain/`), `models/` does not know `auth`, and no
//! route area reaches into another area (shared page pieces live in `routes/shared/`).

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The source without comments (`//` to the end of the line), so doc text may name anything.
fn code_of(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| match line.find("//") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first path segments named after `prefix` (e.g. `crate::`): `crate::models::x` and
/// `use crate::{models, db}` both give their segments.
fn segments_after(code: &str, prefix: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(i) = code[from..].find(prefix) {
        let start = from + i;
        from = start + prefix.len();
        let before = code[..start].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest = &code[from..];
        let ident = |text: &str| -> String {
            text.trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        };
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            found.extend(
                group[..end]
                    .split(',')
                    .map(ident)
                    .filter(|name| !name.is_empty()),
            );
        } else {
            found.push(ident(rest));
        }
    }
    found
}

fn relative(path: &Path) -> String {
    path.strip_prefix(src()).unwrap().display().to_string()
}

#[test]
fn the_domain_uses_nothing_outside_the_domain() {
    let mut offences = Vec::new();
    for file in rust_files(&src().join("domain")) {
        let code = code_of(&file);
        for module in segments_after(&code, "crate::") {
            if module != "domain" {
                offences.push(format!("{} uses crate::{module}", relative(&file)));
            }
        }
        if code.contains("super::super::") {
            offences.push(format!(
                "{} leaves domain/ through super::super",
                relative(&file)
            ));
        }
    }
    assert!(offences.is_empty(), "{offences:#?}");
}

#[test]
fn models_do_not_know_auth_or_routes() {
    let mut offences = Vec::new();
    for file in rust_files(&src().join("models")) {
        let code = code_of(&file);
        for module in segments_after(&code, "crate::") {
            if ["auth", "routes", "state", "mail"].contains(&module.as_str()) {
                offences.push(format!("{} uses crate::{module}", relative(&file)));
            }
        }
    }
    assert!(offences.is_empty(), "{offences:#?}");
}

#[test]
fn no_route_area_reaches_into_another() {
    let routes = src().join("routes");
    // An area is a file or folder of `routes/` other than the router and the shared pieces.
    let areas: Vec<String> = std::fs::read_dir(&routes)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|name| name != "mod" && name != "shared")
        .collect();
    assert!(areas.contains(&"instruction".to_owned()) && areas.len() > 10);
    let mut offences = Vec::new();
    for file in rust_files(&routes) {
        let rel = file.strip_prefix(&routes).unwrap();
        let Some(area) = rel.iter().next().map(|c| {
            Path::new(c)
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        }) else {
            continue;
        };
        if area == "mod" {
            continue;
        }
        // In `routes/x/y.rs` (not `mod.rs`), `super::` is the area itself.
        let in_folder = rel.components().count() > 1 && !file.ends_with("mod.rs");
        let code = code_of(&file);
        let mut named = segments_after(&code, "crate::routes::");
        if in_folder {
            named.extend(segments_after(&code, "super::super::"));
        } else {
            named.extend(segments_after(&code, "super::"));
        }
        for module in named {
            if module != area && areas.contains(&module) {
                offences.push(format!("routes/{} uses the {module} area", rel.display()));
            }
        }
    }
    assert!(offences.is_empty(), "{offences:#?}");
}

#[test]
fn the_import_scanner_sees_grouped_and_plain_paths() {
    assert_eq!(
        segments_after(
            "use crate::{models, db::x};\nlet a = crate::mail::f();",
            "crate::"
        ),
        vec!["models", "db", "mail"]
    );
    assert_eq!(
        segments_after("use super::super::tokens::x;", "super::"),
        vec!["super"]
    );
    assert_eq!(
        segments_after("use super::super::tokens::x;", "super::super::"),
        vec!["tokens"]
    );
}
