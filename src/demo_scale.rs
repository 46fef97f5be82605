//! The national-scale data set (`demo-data --scale national`): the normal demo set (same
//! accounts, same sign-in), then tens of thousands of collectivités, requests in every state,
//! tokens spread over 18 months of expiries, éditeurs, subscriptions and events — generated
//! deterministically and written in large raw-SQL batches so that it loads in well under two
//! minutes on SQLite. Used by the load benchmark (`bench/load.sh`).

use chrono::{Days, Months, NaiveDate, NaiveDateTime, NaiveTime};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::demo;
use crate::domain::reminders::{STAGES, next_due_on};
use crate::domain::request_state::{RequestState, habilitation};
use crate::domain::roles::contact;
use crate::domain::siret::with_check_digit;

/// How many rows of each kind a scale load creates (besides the normal demo set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScaleCounts {
    pub collectivites: usize,
    pub requests: usize,
    pub editeurs: usize,
}

impl ScaleCounts {
    /// The national scale: ≈ every commune of France, ≥ 100 000 requests and tokens.
    pub const NATIONAL: ScaleCounts = ScaleCounts {
        collectivites: 36_000,
        requests: 132_000,
        editeurs: 100,
    };

    /// The national counts times `factor` (at least one of each).
    pub fn scaled(factor: f64) -> ScaleCounts {
        let scale = |n: usize| ((n as f64 * factor).round() as usize).max(1);
        ScaleCounts {
            collectivites: scale(Self::NATIONAL.collectivites),
            requests: scale(Self::NATIONAL.requests),
            editeurs: scale(Self::NATIONAL.editeurs).min(Self::NATIONAL.editeurs),
        }
    }
}

/// What a scale load created (the demo set's rows excluded).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScaleSummary {
    pub collectivites: usize,
    pub editeurs: usize,
    pub requests: usize,
    pub contacts: usize,
    pub tokens: usize,
    pub subscriptions: usize,
    pub events: usize,
}

impl std::fmt::Display for ScaleSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} collectivités, {} éditeurs, {} demandes ({} contacts), {} jetons, {} abonnements HubEE, {} événements",
            self.collectivites,
            self.editeurs,
            self.requests,
            self.contacts,
            self.tokens,
            self.subscriptions,
            self.events
        )
    }
}

/// Départements (code, whether overseas), metropolitan ones including 2A and 2B, then the
/// five overseas départements.
const DEPARTEMENTS: [&str; 101] = [
    "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15", "16",
    "17", "18", "19", "2A", "2B", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30", "31",
    "32", "33", "34", "35", "36", "37", "38", "39", "40", "41", "42", "43", "44", "45", "46", "47",
    "48", "49", "50", "51", "52", "53", "54", "55", "56", "57", "58", "59", "60", "61", "62", "63",
    "64", "65", "66", "67", "68", "69", "70", "71", "72", "73", "74", "75", "76", "77", "78", "79",
    "80", "81", "82", "83", "84", "85", "86", "87", "88", "89", "90", "91", "92", "93", "94", "95",
    "971", "972", "973", "974", "976",
];
/// Communes per overseas département (they have few).
const OVERSEAS_COMMUNES: usize = 24;

const NAME_PREFIXES: [&str; 12] = [
    "",
    "",
    "",
    "",
    "Saint-",
    "Sainte-",
    "Le ",
    "La ",
    "Les ",
    "Villers-",
    "Mont-",
    "Notre-Dame-de-",
];
const NAME_ROOTS: [&str; 60] = [
    "Beaumont",
    "Villeneuve",
    "Montagny",
    "Châteauneuf",
    "Martin",
    "Fontaine",
    "Bois",
    "Champagne",
    "Roche",
    "Vernay",
    "Blanzac",
    "Aubigny",
    "Marcilly",
    "Chavagnac",
    "Pierrefitte",
    "Orval",
    "Lussac",
    "Mérignac",
    "Crozon",
    "Plouër",
    "Kervignac",
    "Haute-Rive",
    "Belleville",
    "Bourgneuf",
    "Chaumont",
    "Clairefontaine",
    "Ferrières",
    "Grandpré",
    "Lavaur",
    "Marsac",
    "Neuvic",
    "Quincy",
    "Rochefort",
    "Sauveterre",
    "Tournus",
    "Valence",
    "Verneuil",
    "Vitry",
    "Arnac",
    "Bazoches",
    "Cernay",
    "Dampierre",
    "Étrépagny",
    "Fresnay",
    "Gourdon",
    "Hérouville",
    "Isigny",
    "Juvigny",
    "Lignières",
    "Magny",
    "Noyers",
    "Ozoir",
    "Pouilly",
    "Rosières",
    "Sermaize",
    "Thury",
    "Ussel",
    "Vaux",
    "Wissous",
    "Yvré",
];
const NAME_SUFFIXES: [&str; 20] = [
    "",
    "",
    "",
    "",
    "",
    "-sur-Loire",
    "-sur-Marne",
    "-en-Bresse",
    "-les-Bains",
    "-le-Château",
    "-la-Forêt",
    "-sur-Mer",
    "-d'Armagnac",
    "-en-Vexin",
    "-sous-Bois",
    "-le-Grand",
    "-le-Petit",
    "-sur-Seine",
    "-de-Provence",
    "-en-Auge",
];
const GIVEN_NAMES: [&str; 16] = [
    "Camille", "Julien", "Sophie", "Nicolas", "Élodie", "Thomas", "Claire", "Mathieu", "Aurélie",
    "Antoine", "Nathalie", "Karim", "Léa", "Hugo", "Inès", "Yannick",
];
const FAMILY_NAMES: [&str; 16] = [
    "Martin",
    "Bernard",
    "Dubois",
    "Lefèvre",
    "Moreau",
    "Garnier",
    "Roussel",
    "Faure",
    "Mercier",
    "Benali",
    "Chevalier",
    "Perrin",
    "Nguyen",
    "Lambert",
    "Fontaine",
    "Roux",
];
const EDITEUR_WORDS: [&str; 20] = [
    "Cité",
    "Famille",
    "Enfance",
    "Portail",
    "Civil",
    "Horizon",
    "Mairie",
    "Agora",
    "Citoyen",
    "Territoire",
    "Loisirs",
    "Scolaire",
    "Avenir",
    "Atlas",
    "Boréal",
    "Carré",
    "Delta",
    "Écho",
    "Kiosque",
    "Lien",
];

/// A fixed mix of 64 bits of `n` (splitmix64): deterministic "randomness".
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn pick(n: usize, salt: u64) -> usize {
    (mix(n as u64 ^ salt.rotate_left(32)) % 1_000_000) as usize
}

/// A UUID-shaped, stable id for row `n` of kind `kind` (kinds are small integers).
fn uuid(kind: u16, n: usize) -> String {
    format!("5ca1e000-{kind:04x}-4000-8000-{n:012}")
}

fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.to_lowercase().chars() {
        let c = match c {
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            c => c,
        };
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

/// A quoted SQL string literal.
fn q(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn qo(text: Option<&str>) -> String {
    text.map(q).unwrap_or_else(|| "NULL".to_owned())
}

fn ts(at: NaiveDateTime) -> String {
    format!("'{}'", at.format("%Y-%m-%d %H:%M:%S"))
}

fn tso(at: Option<NaiveDateTime>) -> String {
    at.map(ts).unwrap_or_else(|| "NULL".to_owned())
}

fn day(date: NaiveDate) -> String {
    format!("'{}'", date.format("%Y-%m-%d"))
}

fn at(date: NaiveDate, hour: u32) -> NaiveDateTime {
    date.and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or(NaiveTime::MIN))
}

fn shift(date: NaiveDate, days: i64) -> NaiveDate {
    if days >= 0 {
        date.checked_add_days(Days::new(days.unsigned_abs()))
    } else {
        date.checked_sub_days(Days::new(days.unsigned_abs()))
    }
    .unwrap_or(date)
}

/// Multi-row `INSERT … VALUES` statements of at most `ROWS_PER_STATEMENT` rows.
struct Batch<'a> {
    head: &'static str,
    sql: String,
    rows: usize,
    total: usize,
    conn: &'a mut DbConnection,
}

const ROWS_PER_STATEMENT: usize = 500;

impl<'a> Batch<'a> {
    fn new(conn: &'a mut DbConnection, head: &'static str) -> Batch<'a> {
        Batch {
            head,
            sql: String::with_capacity(128 * 1024),
            rows: 0,
            total: 0,
            conn,
        }
    }

    fn push(&mut self, values: &str) -> QueryResult<()> {
        if self.rows == 0 {
            self.sql.push_str(self.head);
            self.sql.push_str(" VALUES (");
        } else {
            self.sql.push_str(", (");
        }
        self.sql.push_str(values);
        self.sql.push(')');
        self.rows += 1;
        self.total += 1;
        if self.rows >= ROWS_PER_STATEMENT {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> QueryResult<()> {
        if self.rows > 0 {
            self.conn.batch_execute(&self.sql)?;
            self.sql.clear();
            self.rows = 0;
        }
        Ok(())
    }

    fn finish(mut self) -> QueryResult<usize> {
        self.flush()?;
        Ok(self.total)
    }
}

/// A generated collectivité.
struct Place {
    name: String,
    kind: &'static str,
    cog: String,
    postal_code: String,
    departement: &'static str,
    siret: String,
}

fn place(i: usize, count: usize) -> Place {
    // Overseas départements get a few communes each; the others share the rest.
    let overseas = DEPARTEMENTS.len() - 96;
    let overseas_total = (OVERSEAS_COMMUNES * overseas).min(count / 20);
    let (departement, k) = if i < overseas_total {
        (DEPARTEMENTS[96 + i % overseas], i / overseas)
    } else {
        let j = i - overseas_total;
        (DEPARTEMENTS[j % 96], j / 96)
    };
    let (cog, postal_code) = if departement.len() == 3 {
        (
            format!("{departement}{:02}", (k % 99) + 1),
            format!("{departement}{:02}", (k * 3) % 90 + 10),
        )
    } else {
        let postal_dept = if departement.starts_with('2') && departement.ends_with(['A', 'B']) {
            "20"
        } else {
            departement
        };
        (
            format!("{departement}{:03}", (k % 999) + 1),
            format!("{postal_dept}{:03}", (k * 10) % 1000),
        )
    };
    let root = NAME_ROOTS[pick(i, 1) % NAME_ROOTS.len()];
    let prefix = NAME_PREFIXES[pick(i, 2) % NAME_PREFIXES.len()];
    let suffix = NAME_SUFFIXES[pick(i, 3) % NAME_SUFFIXES.len()];
    let town = format!("{prefix}{root}{suffix}");
    let (kind, name, siren_prefix) = match i % 36 {
        34 => ("ccas", format!("CCAS de {town}"), "26"),
        35 => ("epci", format!("Communauté de communes de {town}"), "20"),
        _ => ("commune", town, "21"),
    };
    // "9" then six digits keeps clear of the demo set's SIRETs (prefix + COG + "000").
    let siret = with_check_digit(&format!("{siren_prefix}9{:06}{:04}", i, (i * 7) % 10_000))
        .unwrap_or_default();
    Place {
        name,
        kind,
        cog,
        postal_code,
        departement,
        siret,
    }
}

/// The generated éditeur `e`: (name, contact technique, form uid).
fn editeur(e: usize) -> (String, String, String) {
    let a = EDITEUR_WORDS[e % EDITEUR_WORDS.len()];
    let b = EDITEUR_WORDS[(e / EDITEUR_WORDS.len() + e * 7 + 3) % EDITEUR_WORDS.len()];
    let name = format!("{a} {b} Logiciels {}", e + 1);
    let domain = format!("{}.fr", slug(&name));
    (
        name,
        format!("api@{domain}"),
        format!(
            "api-particulier-scale-{}",
            slug(&format!("{a}-{b}-{}", e + 1))
        ),
    )
}

/// The state of request `r` and whether it has a token (validated once).
fn request_plan(r: usize) -> (RequestState, bool, bool) {
    // (state, reopening, has token)
    match pick(r, 11) % 100 {
        0..=71 => (RequestState::Validated, false, true),
        72..=76 => (RequestState::Revoked, false, true),
        77..=83 => (
            RequestState::Submitted,
            r.is_multiple_of(9),
            r.is_multiple_of(9),
        ),
        84..=87 => (
            RequestState::Draft,
            r.is_multiple_of(11),
            r.is_multiple_of(11),
        ),
        88..=91 => (RequestState::ChangesRequested, false, false),
        92..=95 => (RequestState::Refused, false, false),
        _ => (RequestState::Archived, false, false),
    }
}

/// Loads the demo set then the scale data set on an empty database. `progress` receives one
/// French line per step. Fails (changing nothing) if the database already holds data.
pub fn load(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    counts: ScaleCounts,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<ScaleSummary> {
    let started = std::time::Instant::now();
    let mut say = |text: &str| {
        progress(&format!(
            "[{:>5.1} s] {text}",
            started.elapsed().as_secs_f64()
        ))
    };
    match demo::load_if_empty(conn, now)? {
        Some(summary) => say(&format!("jeu de démonstration : {summary}")),
        None => anyhow::bail!(
            "la base contient déjà des données : le jeu à l'échelle se charge sur une base vide"
        ),
    }
    // PostgreSQL: each statement planned for the tables as they are now. The foreign-key
    // checks' plans are cached per connection; made while the tables held the demo set, they
    // scan `habilitation_requests` and `collectivites` for every row inserted (3.8 billion
    // rows read, over 15 minutes for the load; 113 s planned afresh). And the search index's
    // trigram (GIN) indexes set aside while the rows go in, built once at the end (150 000
    // documents: 9.0 s inserted into the index, 3.3 s inserted then indexed).
    let mut set_aside: Vec<String> = Vec::new();
    match conn {
        DbConnection::Sqlite(sqlite) => {
            // Bulk load: no fsync per transaction; the WAL is checkpointed at the end.
            sqlite.batch_execute("PRAGMA synchronous = OFF; PRAGMA cache_size = -65536;")?;
        }
        DbConnection::Postgresql(pg) => {
            pg.batch_execute(
                "SET synchronous_commit = off; SET plan_cache_mode = force_custom_plan",
            )?;
            // Only the indexes actually dropped are rebuilt, whatever happens next.
            for definition in gin_indexes(pg)? {
                if let Some(name) = index_name(&definition) {
                    pg.batch_execute(&format!("DROP INDEX IF EXISTS {name}"))?;
                    set_aside.push(definition);
                }
            }
        }
    }
    let mut summary = ScaleSummary::default();
    let loaded = insert_all(conn, now.date(), counts, &mut summary, &mut say);

    // The indexes set aside and the session's settings come back on every path: a failed
    // load leaves no database without its search indexes, nor a pooled connection tuned for
    // bulk writes.
    if let DbConnection::Postgresql(pg) = conn {
        let mut restored = Ok(());
        for definition in &set_aside {
            let again = definition.replacen("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1);
            restored = restored.and(pg.batch_execute(&again));
        }
        restored =
            restored.and(pg.batch_execute("RESET synchronous_commit; RESET plan_cache_mode"));
        loaded?;
        restored?;
        if !set_aside.is_empty() {
            say(&format!(
                "{} index trigrammes de recherche reconstruits",
                set_aside.len()
            ));
        }
    } else {
        loaded?;
    }

    match conn {
        DbConnection::Sqlite(sqlite) => sqlite.batch_execute(
            "PRAGMA synchronous = NORMAL; ANALYZE; PRAGMA wal_checkpoint(TRUNCATE);",
        )?,
        // VACUUM too: every generated row moved the counters kept by triggers (`row_counts`,
        // `token_expiry_counts`…), whose few live rows then sit among hundreds of thousands of
        // dead versions until autovacuum passes: the staff home read them with p99 over
        // 200 ms right after a load. It also marks the pages all-visible, for index-only scans.
        DbConnection::Postgresql(pg) => pg.batch_execute("VACUUM (ANALYZE)")?,
    }
    say("statistiques du planificateur (ANALYZE) à jour");
    Ok(summary)
}

/// Every generated row, in large transactions (see [`load`]).
fn insert_all(
    conn: &mut DbConnection,
    today: NaiveDate,
    counts: ScaleCounts,
    summary: &mut ScaleSummary,
    say: &mut dyn FnMut(&str),
) -> anyhow::Result<()> {
    crate::db::transaction(conn, |conn| -> QueryResult<()> {
        let mut b = Batch::new(
            conn,
            "INSERT INTO editeurs (id, name, siret, contact_technique_email, apis, created_at, updated_at)",
        );
        for e in 0..counts.editeurs {
            let (name, contact, _) = editeur(e);
            let siret = with_check_digit(&format!("79{:07}{:04}", e, 1)).unwrap_or_default();
            let created = at(shift(today, -(400 + e as i64)), 9);
            b.push(&format!(
                "{}, {}, {}, {}, 'quotient_familial_v2', {}, {}",
                q(&uuid(1, e)),
                q(&name),
                q(&siret),
                q(&contact),
                ts(created),
                ts(created)
            ))?;
        }
        summary.editeurs = b.finish()?;
        let mut b = Batch::new(
            conn,
            "INSERT INTO editeur_forms (id, editeur_id, form_uid, name, public_url, created_at)",
        );
        for e in 0..counts.editeurs {
            let (name, _, form_uid) = editeur(e);
            b.push(&format!(
                "{}, {}, {}, {}, {}, {}",
                q(&uuid(2, e)),
                q(&uuid(1, e)),
                q(&form_uid),
                q(&format!("Formulaire QF — {name}")),
                q(&format!(
                    "https://datapass.api.gouv.fr/demandes/{form_uid}/nouveau"
                )),
                ts(at(today, 8))
            ))?;
        }
        b.finish()?;
        let mut b = Batch::new(
            conn,
            "INSERT INTO editeur_members (id, editeur_id, email, created_at, created_by)",
        );
        for e in 0..counts.editeurs {
            let (name, _, _) = editeur(e);
            b.push(&format!(
                "{}, {}, {}, {}, 'demo'",
                q(&uuid(3, e)),
                q(&uuid(1, e)),
                q(&format!("equipe@{}.fr", slug(&name))),
                ts(at(today, 8))
            ))?;
        }
        b.finish()?;
        Ok(())
    })?;
    say(&format!("{} éditeurs", summary.editeurs));

    let places: Vec<Place> = (0..counts.collectivites)
        .map(|i| place(i, counts.collectivites))
        .collect();
    crate::db::transaction(conn, |conn| -> QueryResult<()> {
        let mut b = Batch::new(
            conn,
            "INSERT INTO collectivites (id, siret, name, kind, cog, postal_code, departement, active, had_hubee_account, created_at, updated_at)",
        );
        for (i, p) in places.iter().enumerate() {
            let created = at(shift(today, -(900 + (i % 300) as i64)), 10);
            b.push(&format!(
                "{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}",
                q(&uuid(4, i)),
                q(&p.siret),
                q(&p.name),
                q(p.kind),
                q(&p.cog),
                q(&p.postal_code),
                q(p.departement),
                if i % 97 == 0 { "FALSE" } else { "TRUE" },
                if i % 3 == 0 { "TRUE" } else { "FALSE" },
                ts(created),
                ts(created)
            ))?;
        }
        summary.collectivites = b.finish()?;
        Ok(())
    })?;
    say(&format!("{} collectivités", summary.collectivites));

    // Requests, contacts, events, habilitations, tokens: in chunks of 20 000 requests, one
    // transaction each.
    const CHUNK: usize = 20_000;
    let mut subscribed = vec![false; counts.collectivites];
    let mut start = 0;
    while start < counts.requests {
        let end = (start + CHUNK).min(counts.requests);
        crate::db::transaction(conn, |conn| -> QueryResult<()> {
            insert_requests(conn, today, counts, &places, start..end, summary)?;
            Ok(())
        })?;
        for r in start..end {
            if request_plan(r).2 {
                subscribed[r % counts.collectivites] = true;
            }
        }
        start = end;
        say(&format!(
            "{} demandes, {} contacts, {} jetons, {} événements",
            summary.requests, summary.contacts, summary.tokens, summary.events
        ));
    }

    crate::db::transaction(conn, |conn| -> QueryResult<()> {
        let mut b = Batch::new(
            conn,
            "INSERT INTO hubee_subscriptions (id, collectivite_id, process_code, hubee_id, status, access_mode, notification_frequency, notification_email, datapass_id, activation_date, end_date, local_admin_email, delegation_editeur_siret, created_at, updated_at)",
        );
        for (c, _) in subscribed.iter().enumerate().filter(|(_, s)| **s) {
            let status = match pick(c, 21) % 20 {
                0..=13 => "ACTIF",
                14..=16 => "INACTIF",
                17 | 18 => "SUSPENDU",
                _ => "REFUSE",
            };
            let town = slug(&places[c].name);
            let created = at(shift(today, -((pick(c, 22) % 500) as i64) - 30), 11);
            let api = c % 4 == 0;
            b.push(&format!(
                "{}, {}, 'FormulaireQF', {}, {}, {}, {}, {}, {}, {}, NULL, {}, {}, {}, {}",
                q(&uuid(20, c)),
                q(&uuid(4, c)),
                if status == "INACTIF" {
                    "NULL".to_owned()
                } else {
                    q(&uuid(21, c))
                },
                q(status),
                q(if api { "API" } else { "PORTAIL" }),
                q(["Unitaire", "Quotidienne", "Biquotidienne", "Aucune"][c % 4]),
                q(&format!("enfance@{town}.fr")),
                200_000 + c,
                if status == "ACTIF" {
                    day(created.date())
                } else {
                    "NULL".to_owned()
                },
                q(&format!("mairie@{town}.fr")),
                if api {
                    q(
                        &with_check_digit(&format!("79{:07}{:04}", c % counts.editeurs, 1))
                            .unwrap_or_default(),
                    )
                } else {
                    "NULL".to_owned()
                },
                ts(created),
                ts(created)
            ))?;
        }
        summary.subscriptions = b.finish()?;
        Ok(())
    })?;
    say(&format!("{} abonnements HubEE", summary.subscriptions));
    Ok(())
}

/// The `CREATE INDEX` statements of the search index's GIN indexes (PostgreSQL), as the
/// database reports them, so that they are rebuilt exactly as the migrations made them.
fn gin_indexes(pg: &mut diesel::PgConnection) -> QueryResult<Vec<String>> {
    #[derive(QueryableByName)]
    struct Definition {
        #[diesel(sql_type = diesel::sql_types::Text)]
        indexdef: String,
    }
    let found: Vec<Definition> = diesel::sql_query(
        "SELECT indexdef FROM pg_indexes \
         WHERE schemaname = current_schema() AND tablename = 'search_docs' \
         AND indexdef LIKE '% USING gin %' ORDER BY indexname",
    )
    .load(pg)?;
    Ok(found.into_iter().map(|d| d.indexdef).collect())
}

/// The index named by a `CREATE INDEX name ON …` statement.
fn index_name(definition: &str) -> Option<&str> {
    let rest = definition.strip_prefix("CREATE INDEX ")?;
    let name = rest.split_whitespace().next()?;
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        .then_some(name)
}

fn insert_requests(
    conn: &mut DbConnection,
    today: NaiveDate,
    counts: ScaleCounts,
    places: &[Place],
    range: std::ops::Range<usize>,
    summary: &mut ScaleSummary,
) -> QueryResult<()> {
    struct Row {
        r: usize,
        c: usize,
        state: RequestState,
        reopening: bool,
        has_token: bool,
        editeur: Option<usize>,
        created: NaiveDateTime,
        submitted: Option<NaiveDateTime>,
        validated: Option<NaiveDateTime>,
        updated: NaiveDateTime,
        expires_on: NaiveDate,
    }
    let rows: Vec<Row> = range
        .map(|r| {
            let (state, reopening, has_token) = request_plan(r);
            let c = r % counts.collectivites;
            let editeur = (!pick(r, 12).is_multiple_of(5)).then(|| pick(r, 13) % counts.editeurs);
            // Tokens: 92 % expire over the next 18 months, the others expired up to a year ago.
            let days_left = if pick(r, 14) % 100 < 92 {
                (pick(r, 15) % 548) as i64
            } else {
                -((pick(r, 15) % 365) as i64) - 1
            };
            let expires_on = shift(today, days_left);
            let issued = expires_on
                .checked_sub_months(Months::new(crate::domain::token::TOKEN_LIFETIME_MONTHS))
                .unwrap_or(today);
            let (created, submitted, validated) = if has_token {
                (
                    at(shift(issued, -12), 9),
                    Some(at(shift(issued, -3), 15)),
                    Some(at(issued, 11)),
                )
            } else {
                let submitted_day = shift(today, -((pick(r, 16) % 40) as i64));
                (
                    at(shift(submitted_day, -5), 9),
                    (state != RequestState::Draft).then(|| at(submitted_day, 10 + (r % 6) as u32)),
                    None,
                )
            };
            let updated = match (state, reopening) {
                (RequestState::Submitted, true) | (RequestState::Draft, true) => {
                    at(shift(today, -((r % 20) as i64)), 14)
                }
                (RequestState::Revoked, _) => at(shift(today, -((r % 200) as i64) - 1), 16),
                _ => submitted.or(validated).unwrap_or(created),
            };
            Row {
                r,
                c,
                state,
                reopening,
                has_token,
                editeur,
                created,
                submitted,
                validated,
                updated,
                expires_on,
            }
        })
        .collect();

    let mut b = Batch::new(
        conn,
        "INSERT INTO habilitation_requests (id, datapass_id, collectivite_id, form_uid, editeur_id, state, reopening, scopes, purpose, deliberation_url, last_reason, created_at, last_submitted_at, last_validated_at, last_event_at, updated_at)",
    );
    for row in &rows {
        let place = &places[row.c];
        let form_uid = row
            .editeur
            .map(|e| editeur(e).2)
            .unwrap_or_else(|| crate::domain::form_url::GENERIC_FORM_UID.to_owned());
        let reason = match row.state {
            RequestState::ChangesRequested => Some(
                "La délibération jointe ne mentionne pas le quotient familial : merci de joindre la délibération tarifaire en vigueur.",
            ),
            RequestState::Refused => {
                Some("Votre structure ne tarifie pas ses services selon le quotient familial.")
            }
            _ => None,
        };
        b.push(&format!(
            "{}, {}, {}, {}, {}, {}, {}, 'quotient_familial', {}, {}, {}, {}, {}, {}, {}, {}",
            q(&uuid(10, row.r)),
            1_000_000 + row.r,
            q(&uuid(4, row.c)),
            q(&form_uid),
            qo(row.editeur.map(|e| uuid(1, e)).as_deref()),
            q(row.state.as_str()),
            if row.reopening { "TRUE" } else { "FALSE" },
            q("Tarification des services périscolaires et de la restauration scolaire selon le quotient familial."),
            qo((row.r % 7 != 3)
                .then(|| format!("https://www.{}.fr/deliberations/qf-{}.pdf", slug(&place.name), row.r))
                .as_deref()),
            qo(reason),
            ts(row.created),
            tso(row.submitted),
            tso(row.validated),
            ts(row.updated),
            ts(row.updated)
        ))?;
    }
    summary.requests += b.finish()?;

    let mut b = Batch::new(
        conn,
        "INSERT INTO request_contacts (id, request_id, role, email, given_name, family_name, phone_number, job_title)",
    );
    for row in &rows {
        let town = slug(&places[row.c].name);
        let g = |k: usize| GIVEN_NAMES[pick(row.r, 30 + k as u64) % GIVEN_NAMES.len()];
        let f = |k: usize| FAMILY_NAMES[pick(row.r, 40 + k as u64) % FAMILY_NAMES.len()];
        let technique = row
            .editeur
            .map(|e| editeur(e).1)
            .unwrap_or_else(|| format!("dsi@{town}.fr"));
        let contacts = [
            (
                contact::DEMANDEUR,
                0,
                Some(0),
                "Responsable du service enfance",
            ),
            (
                contact::CONTACT_METIER,
                1,
                Some(1),
                "Directrice de l'éducation",
            ),
            (contact::CONTACT_TECHNIQUE, 2, None, "Contact technique"),
            (
                contact::DPD,
                3,
                Some(3),
                "Délégué à la protection des données",
            ),
        ];
        for (role, k, person, job) in contacts {
            let email = match (role, person) {
                (contact::CONTACT_TECHNIQUE, _) => technique.clone(),
                (contact::DPD, _) => format!("dpd@{town}.fr"),
                (_, Some(p)) => format!("{}.{}@{town}.fr", slug(g(p)), slug(f(p))),
                _ => format!("contact@{town}.fr"),
            };
            b.push(&format!(
                "{}, {}, {}, {}, {}, {}, {}, {}",
                q(&uuid(11, row.r * 4 + k)),
                q(&uuid(10, row.r)),
                q(role),
                q(&email),
                qo(person.map(g)),
                qo(person.map(f)),
                q(&format!(
                    "01 {:02} {:02} {:02} {:02}",
                    40 + row.r % 50,
                    row.r % 97,
                    (row.r * 3) % 97,
                    (row.r * 7) % 97
                )),
                q(job)
            ))?;
        }
    }
    summary.contacts += b.finish()?;

    let mut b = Batch::new(
        conn,
        "INSERT INTO events (id, occurred_at, actor, action, target_type, target_id, details)",
    );
    for row in &rows {
        let target = uuid(10, row.r);
        b.push(&format!(
            "{}, {}, 'datapass', 'request.create', 'request', {}, NULL",
            q(&uuid(12, row.r * 2)),
            ts(row.created),
            q(&target)
        ))?;
        let decision = match row.state {
            RequestState::Validated => Some("request.approve"),
            RequestState::Revoked => Some("request.revoke"),
            RequestState::Submitted => Some("request.submit"),
            RequestState::ChangesRequested => Some("request.request_changes"),
            RequestState::Refused => Some("request.refuse"),
            RequestState::Archived => Some("request.archive"),
            _ => None,
        };
        if let Some(action) = decision {
            b.push(&format!(
                "{}, {}, 'datapass', {}, 'request', {}, NULL",
                q(&uuid(12, row.r * 2 + 1)),
                ts(row.updated),
                q(action),
                q(&target)
            ))?;
        }
    }
    summary.events += b.finish()?;

    let mut b = Batch::new(
        conn,
        "INSERT INTO habilitations (id, request_id, collectivite_id, datapass_authorization_id, slug, state, validated_at, revoked_at, created_at)",
    );
    for row in rows.iter().filter(|row| row.has_token) {
        let revoked = row.state == RequestState::Revoked;
        let validated = row.validated.unwrap_or(row.created);
        b.push(&format!(
            "{}, {}, {}, {}, {}, {}, {}, {}, {}",
            q(&uuid(13, row.r)),
            q(&uuid(10, row.r)),
            q(&uuid(4, row.c)),
            2_000_000 + row.r,
            q(&format!("{}-formulaire-qf", 1_000_000 + row.r)),
            q(if revoked {
                habilitation::REVOKED
            } else {
                habilitation::ACTIVE
            }),
            ts(validated),
            tso(revoked.then_some(row.updated)),
            ts(validated)
        ))?;
    }
    b.finish()?;

    let mut b = Batch::new(
        conn,
        "INSERT INTO tokens (id, habilitation_id, collectivite_id, scopes, issued_at, expires_on, revoked_at, revocation_reason, created_at, updated_at, next_reminder_on)",
    );
    for row in rows.iter().filter(|row| row.has_token) {
        let revoked = row.state == RequestState::Revoked;
        let validated = row.validated.unwrap_or(row.created);
        let left = (row.expires_on - today).num_days();
        // The reminders already sent: the last stage whose day has passed.
        let sent = STAGES
            .iter()
            .rev()
            .copied()
            .find(|stage| left <= i64::from(*stage));
        let next = if revoked || left < 0 {
            None
        } else {
            next_due_on(row.expires_on, sent)
        };
        b.push(&format!(
            "{}, {}, {}, 'quotient_familial', {}, {}, {}, {}, {}, {}, {}",
            q(&uuid(14, row.r)),
            q(&uuid(13, row.r)),
            q(&uuid(4, row.c)),
            ts(validated),
            day(row.expires_on),
            tso(revoked.then_some(row.updated)),
            qo(revoked.then_some("Habilitation révoquée à la demande de la collectivité.")),
            ts(validated),
            ts(validated),
            next.map(day).unwrap_or_else(|| "NULL".to_owned())
        ))?;
    }
    summary.tokens += b.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::siret::Siret;

    #[test]
    fn index_name_reads_the_name_of_a_create_index_statement() {
        assert_eq!(
            index_name(
                "CREATE INDEX search_docs_contact_trgm ON public.search_docs USING gin (body gin_trgm_ops) WHERE (kind = 'contact'::text)"
            ),
            Some("search_docs_contact_trgm")
        );
        assert_eq!(index_name("CREATE UNIQUE INDEX a ON b (c)"), None);
        assert_eq!(index_name("CREATE INDEX a;DROP ON b"), None);
    }

    #[test]
    fn places_have_valid_unique_sirets_and_every_kind_of_departement() {
        let count = 36_000;
        let mut sirets = std::collections::HashSet::new();
        let mut departements = std::collections::HashSet::new();
        for i in 0..count {
            let p = place(i, count);
            assert!(Siret::parse(&p.siret).is_ok(), "{}", p.siret);
            assert!(sirets.insert(p.siret.clone()), "{} is unique", p.siret);
            assert!(
                p.cog.starts_with(p.departement),
                "{} in {}",
                p.cog,
                p.departement
            );
            assert_eq!(p.postal_code.len(), 5);
            departements.insert(p.departement);
        }
        for wanted in ["2A", "2B", "971", "972", "973", "974", "976", "01", "95"] {
            assert!(departements.contains(wanted), "{wanted}");
        }
        for i in 0..50 {
            assert!(!sirets.contains(&demo::demo_siret(i).unwrap_or_default()));
        }
    }

    #[test]
    fn request_plan_covers_every_state() {
        use crate::domain::request_state::RequestState;
        for state in RequestState::ALL {
            assert!((0..2000).any(|r| request_plan(r).0 == state), "{state:?}");
        }
        let tokens = (0..132_000).filter(|r| request_plan(*r).2).count();
        assert!(tokens >= 100_000, "{tokens} tokens at national scale");
    }
}
