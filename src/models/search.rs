//! Staff search across requests (D-number, SIRET, collectivité, contact e-mail or name),
//! tokens, collectivités, éditeurs and people, ranked: exact identifiers first, then name
//! prefixes, then names containing the text. Each kind is one query limited to a few rows
//! (exact lookups use the unique indexes on SIRET, DataPass number and token id).

use diesel::prelude::*;

use crate::db::contains_pattern;
use crate::db::schema::{
    collectivites, editeur_members, editeurs, habilitation_requests, request_contacts,
    staff_members, tokens,
};
use crate::db::{DbConnection, lower};
use crate::domain::request_state::RequestState;

/// Rows read per kind and per rule.
const PER_KIND: i64 = 10;

/// One result.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Hit {
    /// `demande`, `jeton`, `collectivite`, `editeur`, `personne`.
    pub kind: &'static str,
    pub kind_label: &'static str,
    pub label: String,
    pub detail: String,
    pub url: String,
    /// Higher first.
    pub score: i32,
}

fn prefix_pattern(text: &str) -> String {
    let contains = contains_pattern(text);
    contains[1..].to_owned()
}

/// E-mail, role, given and family names of a contact; id, D-number, state and collectivité
/// of its request.
type ContactMatch = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<i64>,
    String,
    String,
);

/// The results for `q`, best first, at most 50.
pub fn search(conn: &mut DbConnection, q: &str) -> QueryResult<Vec<Hit>> {
    let q = q.trim();
    let mut hits: Vec<Hit> = Vec::new();
    if q.chars().count() < 2 {
        return Ok(hits);
    }
    let compact: String = q.chars().filter(|c| !c.is_whitespace()).collect();
    let lowered = q.to_lowercase();

    // D-number.
    let number = compact
        .strip_prefix('D')
        .or_else(|| compact.strip_prefix('d'))
        .unwrap_or(&compact);
    if !number.is_empty()
        && number.len() <= 18
        && number.bytes().all(|b| b.is_ascii_digit())
        && let Ok(n) = number.parse::<i64>()
    {
        let rows: Vec<(String, Option<i64>, String, String)> = habilitation_requests::table
            .inner_join(collectivites::table)
            .filter(habilitation_requests::datapass_id.eq(n))
            .select((
                habilitation_requests::id,
                habilitation_requests::datapass_id,
                habilitation_requests::state,
                collectivites::name,
            ))
            .limit(PER_KIND)
            .load(conn)?;
        for row in rows {
            hits.push(request_hit(row, 100));
        }
    }

    // SIRET (collectivité, éditeur) and the collectivité's requests and tokens.
    if compact.len() == 14 && compact.bytes().all(|b| b.is_ascii_digit()) {
        let found: Option<(String, String, String)> = collectivites::table
            .filter(collectivites::siret.eq(&compact))
            .select((collectivites::id, collectivites::name, collectivites::siret))
            .first(conn)
            .optional()?;
        if let Some((id, name, siret)) = found {
            hits.push(Hit {
                kind: "collectivite",
                kind_label: "Collectivité",
                label: name.clone(),
                detail: format!("SIRET {siret}"),
                url: format!("/collectivites/{id}"),
                score: 100,
            });
            let rows: Vec<(String, Option<i64>, String, String)> = habilitation_requests::table
                .inner_join(collectivites::table)
                .filter(habilitation_requests::collectivite_id.eq(&id))
                .select((
                    habilitation_requests::id,
                    habilitation_requests::datapass_id,
                    habilitation_requests::state,
                    collectivites::name,
                ))
                .limit(PER_KIND)
                .load(conn)?;
            for row in rows {
                hits.push(request_hit(row, 90));
            }
            let token_rows: Vec<(String, chrono::NaiveDate)> = tokens::table
                .filter(tokens::collectivite_id.eq(&id))
                .select((tokens::id, tokens::expires_on))
                .limit(PER_KIND)
                .load(conn)?;
            for (token, expires_on) in token_rows {
                hits.push(Hit {
                    kind: "jeton",
                    kind_label: "Jeton",
                    label: format!("Jeton de {name}"),
                    detail: format!("expire le {}", expires_on.format("%d/%m/%Y")),
                    url: format!("/jetons/{token}"),
                    score: 85,
                });
            }
        }
        let editeur: Option<(String, String)> = editeurs::table
            .filter(editeurs::siret.eq(&compact))
            .select((editeurs::id, editeurs::name))
            .first(conn)
            .optional()?;
        if let Some((id, name)) = editeur {
            hits.push(Hit {
                kind: "editeur",
                kind_label: "Éditeur",
                label: name,
                detail: format!("SIRET {compact}"),
                url: format!("/editeurs/{id}"),
                score: 100,
            });
        }
    }

    // Token id.
    if compact.len() == 36 && compact.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        let token: Option<(String, String)> = tokens::table
            .inner_join(collectivites::table)
            .filter(tokens::id.eq(compact.to_lowercase()))
            .select((tokens::id, collectivites::name))
            .first(conn)
            .optional()?;
        if let Some((id, name)) = token {
            hits.push(Hit {
                kind: "jeton",
                kind_label: "Jeton",
                label: format!("Jeton de {name}"),
                detail: id.clone(),
                url: format!("/jetons/{id}"),
                score: 100,
            });
        }
    }

    // People: staff, éditeur members and contacts by e-mail; contacts by name.
    if lowered.contains('@') {
        let staff: Vec<String> = staff_members::table
            .filter(
                staff_members::email
                    .like(prefix_pattern(&lowered))
                    .escape('\\'),
            )
            .select(staff_members::email)
            .limit(PER_KIND)
            .load(conn)?;
        let members: Vec<String> = editeur_members::table
            .filter(
                editeur_members::email
                    .like(prefix_pattern(&lowered))
                    .escape('\\'),
            )
            .select(editeur_members::email)
            .limit(PER_KIND)
            .load(conn)?;
        for email in staff.into_iter().chain(members) {
            hits.push(Hit {
                kind: "personne",
                kind_label: "Personne",
                score: if email == lowered { 95 } else { 70 },
                label: email.clone(),
                detail: "compte du back-office".to_owned(),
                url: format!("/personnes/{email}"),
            });
        }
    }
    let contact_rows: Vec<ContactMatch> = request_contacts::table
        .inner_join(habilitation_requests::table.inner_join(collectivites::table))
        .filter(
            request_contacts::email
                .like(prefix_pattern(&lowered))
                .escape('\\')
                .or(lower(request_contacts::family_name.assume_not_null())
                    .like(prefix_pattern(&lowered))
                    .escape('\\'))
                .or(lower(request_contacts::given_name.assume_not_null())
                    .like(prefix_pattern(&lowered))
                    .escape('\\')),
        )
        .select((
            request_contacts::email,
            request_contacts::role,
            request_contacts::given_name,
            request_contacts::family_name,
            habilitation_requests::id,
            habilitation_requests::datapass_id,
            habilitation_requests::state,
            collectivites::name,
        ))
        .limit(PER_KIND * 2)
        .load(conn)?;
    let mut people_seen: Vec<String> = hits
        .iter()
        .filter(|h| h.kind == "personne")
        .map(|h| h.label.clone())
        .collect();
    for (email, role, given, family, request_id, datapass_id, state, name) in contact_rows {
        let full_name = [given.unwrap_or_default(), family.unwrap_or_default()]
            .join(" ")
            .trim()
            .to_owned();
        let exact = email == lowered || full_name.to_lowercase() == lowered;
        let mut hit = request_hit(
            (request_id, datapass_id, state, name),
            if exact { 90 } else { 65 },
        );
        hit.detail = format!(
            "{} · {} ({})",
            hit.detail,
            if full_name.is_empty() {
                email.clone()
            } else {
                format!("{full_name}, {email}")
            },
            role.replace('_', " ")
        );
        hits.push(hit);
        if !people_seen.contains(&email) {
            people_seen.push(email.clone());
            hits.push(Hit {
                kind: "personne",
                kind_label: "Personne",
                label: email.clone(),
                detail: if full_name.is_empty() {
                    "contact d'une demande".to_owned()
                } else {
                    format!("{full_name}, contact d'une demande")
                },
                url: format!("/personnes/{email}"),
                score: if exact { 90 } else { 60 },
            });
        }
    }

    // Collectivités and éditeurs by name.
    let by_name: Vec<(String, String, String)> = collectivites::table
        .filter(
            lower(collectivites::name)
                .like(contains_pattern(&lowered))
                .escape('\\'),
        )
        .select((collectivites::id, collectivites::name, collectivites::siret))
        .order(collectivites::name.asc())
        .limit(PER_KIND * 2)
        .load(conn)?;
    for (id, name, siret) in by_name {
        let lower_name = name.to_lowercase();
        let score = if lower_name == lowered {
            95
        } else if lower_name.starts_with(&lowered) {
            80
        } else {
            50
        };
        hits.push(Hit {
            kind: "collectivite",
            kind_label: "Collectivité",
            label: name,
            detail: format!("SIRET {siret}"),
            url: format!("/collectivites/{id}"),
            score,
        });
    }
    let editeur_rows: Vec<(String, String, String)> = editeurs::table
        .filter(
            lower(editeurs::name)
                .like(contains_pattern(&lowered))
                .escape('\\'),
        )
        .select((editeurs::id, editeurs::name, editeurs::siret))
        .limit(PER_KIND)
        .load(conn)?;
    for (id, name, siret) in editeur_rows {
        let lower_name = name.to_lowercase();
        hits.push(Hit {
            kind: "editeur",
            kind_label: "Éditeur",
            score: if lower_name == lowered {
                95
            } else if lower_name.starts_with(&lowered) {
                80
            } else {
                50
            },
            label: name,
            detail: format!("SIRET {siret}"),
            url: format!("/editeurs/{id}"),
        });
    }

    // Best first; one row per destination.
    hits.sort_by(|a, b| b.score.cmp(&a.score).then_with(|| a.label.cmp(&b.label)));
    let mut seen = std::collections::HashSet::new();
    hits.retain(|h| seen.insert(h.url.clone()));
    hits.truncate(50);
    Ok(hits)
}

fn request_hit(row: (String, Option<i64>, String, String), score: i32) -> Hit {
    let (id, datapass_id, state, name) = row;
    let state_label = state
        .parse::<RequestState>()
        .map_or("Inconnu", RequestState::label_fr);
    Hit {
        kind: "demande",
        kind_label: "Demande",
        label: match datapass_id {
            Some(d) => format!("D{d} · {name}"),
            None => format!("Demande · {name}"),
        },
        detail: state_label.to_owned(),
        url: format!("/demandes/{id}"),
        score,
    }
}
