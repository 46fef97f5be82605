//! Staff search across requests (D-number, SIRET, collectivité, contact e-mail or name),
//! tokens, collectivités, éditeurs and people, ranked: exact identifiers first, then prefixes,
//! then texts containing the query. Exact identifiers and SIRET prefixes use the unique
//! indexes (SIRET, DataPass number, token id); texts go through the search index
//! (`crate::search`), a few hundred candidates per kind ranked here.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{collectivites, editeurs, habilitation_requests, request_contacts, tokens};
use crate::domain::request_state::RequestState;
use crate::search::Kind;

/// Rows read per kind and per rule.
const PER_KIND: i64 = 10;

/// Documents read from the search index per kind, then ranked here.
const CANDIDATES: i64 = 200;

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

    let Some(text) = crate::search::parse(q) else {
        return Ok(hits);
    };
    let folded = text.folded.clone();
    let rank = |value: &str, exact: i32, prefix: i32, other: i32| {
        let value = crate::search::fold(value);
        if value == folded {
            exact
        } else if value.starts_with(&folded) {
            prefix
        } else {
            other
        }
    };

    // A number's prefix (SIRET of a collectivité or an éditeur), through the SIRET indexes.
    if (2..14).contains(&compact.len()) && compact.bytes().all(|b| b.is_ascii_digit()) {
        let upper = format!("{compact}:");
        let rows: Vec<(String, String, String)> = collectivites::table
            .filter(collectivites::siret.ge(&compact))
            .filter(collectivites::siret.lt(&upper))
            .select((collectivites::id, collectivites::name, collectivites::siret))
            .order(collectivites::siret.asc())
            .limit(PER_KIND)
            .load(conn)?;
        for (id, name, siret) in rows {
            hits.push(Hit {
                kind: "collectivite",
                kind_label: "Collectivité",
                label: name,
                detail: format!("SIRET {siret}"),
                url: format!("/collectivites/{id}"),
                score: 75,
            });
        }
        let rows: Vec<(String, String, String)> = editeurs::table
            .filter(editeurs::siret.ge(&compact))
            .filter(editeurs::siret.lt(&upper))
            .select((editeurs::id, editeurs::name, editeurs::siret))
            .order(editeurs::siret.asc())
            .limit(PER_KIND)
            .load(conn)?;
        for (id, name, siret) in rows {
            hits.push(Hit {
                kind: "editeur",
                kind_label: "Éditeur",
                label: name,
                detail: format!("SIRET {siret}"),
                url: format!("/editeurs/{id}"),
                score: 75,
            });
        }
    }

    // People with an account: staff and éditeur members, by e-mail.
    for kind in [Kind::Staff, Kind::Member] {
        for doc in crate::search::documents(conn, kind, &text, PER_KIND)? {
            let email = doc.body;
            hits.push(Hit {
                kind: "personne",
                kind_label: "Personne",
                score: rank(&email, 95, 70, 55),
                label: email.clone(),
                detail: "compte du back-office".to_owned(),
                url: format!("/personnes/{email}"),
            });
        }
    }

    // Contacts of requests by e-mail or name (3 characters or more: the trigram index), and by
    // e-mail prefix for shorter texts (the e-mail index).
    let contact_ids: Vec<String> = if text.folded.chars().count() >= 3 {
        crate::search::documents(conn, Kind::Contact, &text, CANDIDATES)?
            .into_iter()
            .map(|doc| doc.source_id)
            .collect()
    } else {
        request_contacts::table
            .filter(request_contacts::email.ge(&lowered))
            .filter(request_contacts::email.lt(format!("{lowered}\u{10ffff}")))
            .select(request_contacts::id)
            .limit(PER_KIND * 2)
            .load(conn)?
    };
    let contact_rows: Vec<ContactMatch> = if contact_ids.is_empty() {
        Vec::new()
    } else {
        request_contacts::table
            .inner_join(habilitation_requests::table.inner_join(collectivites::table))
            .filter(crate::db::condition::Condition::one_of(
                conn,
                "request_contacts.id",
                &contact_ids,
            ))
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
            .load(conn)?
    };
    let mut contact_rows: Vec<(i32, ContactMatch)> = contact_rows
        .into_iter()
        .map(|row| {
            let full_name = format!(
                "{} {}",
                row.2.as_deref().unwrap_or_default(),
                row.3.as_deref().unwrap_or_default()
            );
            let score = [
                rank(&row.0, 3, 2, 1),
                rank(full_name.trim(), 3, 2, 1),
                rank(row.3.as_deref().unwrap_or_default(), 3, 2, 1),
                rank(row.2.as_deref().unwrap_or_default(), 2, 2, 1),
            ]
            .into_iter()
            .max()
            .unwrap_or(1);
            (score, row)
        })
        .collect();
    contact_rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.0.cmp(&b.1.0)));
    contact_rows.truncate((PER_KIND * 2) as usize);
    let mut people_seen: Vec<String> = hits
        .iter()
        .filter(|h| h.kind == "personne")
        .map(|h| h.label.clone())
        .collect();
    for (quality, (email, role, given, family, request_id, datapass_id, state, name)) in
        contact_rows
    {
        let full_name = [given.unwrap_or_default(), family.unwrap_or_default()]
            .join(" ")
            .trim()
            .to_owned();
        let (request_score, person_score) = match quality {
            3 => (90, 90),
            2 => (70, 62),
            _ => (60, 55),
        };
        let mut hit = request_hit((request_id, datapass_id, state, name), request_score);
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
                score: person_score,
            });
        }
    }

    // Collectivités by name (or code): an exact name through the name index, then the
    // documents containing the text, ranked.
    let mut exact_names = vec![q.to_owned()];
    let mut chars = q.chars();
    if let Some(first) = chars.next() {
        exact_names.push(first.to_uppercase().chain(chars).collect());
    }
    let mut collectivite_ids: Vec<String> = collectivites::table
        .filter(collectivites::name.eq_any(&exact_names))
        .select(collectivites::id)
        .limit(PER_KIND)
        .load(conn)?;
    collectivite_ids.extend(
        crate::search::documents(conn, Kind::Collectivite, &text, CANDIDATES)?
            .into_iter()
            .map(|doc| doc.source_id),
    );
    let by_name: Vec<(String, String, String)> = collectivites::table
        .filter(crate::db::condition::Condition::one_of(
            conn,
            "collectivites.id",
            &collectivite_ids,
        ))
        .select((collectivites::id, collectivites::name, collectivites::siret))
        .load(conn)?;
    let mut by_name: Vec<(i32, String, String, String)> = by_name
        .into_iter()
        .map(|(id, name, siret)| (rank(&name, 95, 80, 50), id, name, siret))
        .collect();
    by_name.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.2.cmp(&b.2)));
    by_name.truncate((PER_KIND * 2) as usize);
    for (score, id, name, siret) in by_name {
        hits.push(Hit {
            kind: "collectivite",
            kind_label: "Collectivité",
            label: name,
            detail: format!("SIRET {siret}"),
            url: format!("/collectivites/{id}"),
            score,
        });
    }

    // Éditeurs by name or SIRET.
    let editeur_ids: Vec<String> =
        crate::search::documents(conn, Kind::Editeur, &text, CANDIDATES)?
            .into_iter()
            .map(|doc| doc.source_id)
            .collect();
    let editeur_rows: Vec<(String, String, String)> = editeurs::table
        .filter(crate::db::condition::Condition::one_of(
            conn,
            "editeurs.id",
            &editeur_ids,
        ))
        .select((editeurs::id, editeurs::name, editeurs::siret))
        .load(conn)?;
    for (id, name, siret) in editeur_rows {
        hits.push(Hit {
            kind: "editeur",
            kind_label: "Éditeur",
            score: rank(&name, 95, 80, 50),
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
