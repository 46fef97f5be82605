//! Import of collectivités from a CSV file (`siret,nom,cog,code_postal`), shared by the import
//! page and the `import-collectivites` command: [`parse`] turns the file into valid rows and
//! rejected lines without touching the database, [`apply`] creates the collectivités whose
//! SIRET is new and updates the name, commune code and postal code of the others.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::QueryResult;

use crate::db::DbConnection;
use crate::domain::siret::Siret;
use crate::models::collectivites::{
    self, Collectivite, CollectiviteChanges, departement_from_cog, kind_from_siret, parse_cog,
    parse_postal_code,
};
use crate::models::events;

/// Largest file the import page accepts.
pub const MAX_FILE_BYTES: usize = 5 * 1024 * 1024;

/// How often (in rows applied) progress is reported.
pub const PROGRESS_EVERY: usize = 500;

/// A valid line of the file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ImportRow {
    /// Line number in the file (the header is line 1).
    pub line: u64,
    /// 14 digits, checksum verified.
    pub siret: String,
    pub name: String,
    /// Upper-cased (`2A004`); `None` when the cell is empty.
    pub cog: Option<String>,
    /// `None` when the cell is empty.
    pub postal_code: Option<String>,
}

impl ImportRow {
    /// The département derived from the commune code.
    pub fn departement(&self) -> Option<String> {
        self.cog.as_deref().map(departement_from_cog)
    }
}

/// A line of the file that was not imported, and why (in French).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Rejection {
    pub line: u64,
    /// The SIRET as written in the file.
    pub siret: String,
    pub reason: String,
}

/// What [`parse`] found in a file.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Parsed {
    pub rows: Vec<ImportRow>,
    pub rejections: Vec<Rejection>,
}

impl Parsed {
    /// Number of data lines read (valid and rejected).
    pub fn lines(&self) -> usize {
        self.rows.len() + self.rejections.len()
    }
}

/// Why a whole file cannot be imported.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("Le fichier est vide.")]
    Empty,
    #[error(
        "Le fichier n'est pas encodé en UTF-8 : enregistrez-le au format « CSV UTF-8 » puis recommencez."
    )]
    NotUtf8,
    #[error(
        "La colonne « {0} » est absente de la première ligne (colonnes attendues : siret, nom, cog, code_postal)."
    )]
    MissingColumn(&'static str),
    #[error("Le fichier dépasse 5 Mo : découpez-le en plusieurs fichiers.")]
    TooLarge,
    #[error("Fichier CSV illisible : {0}")]
    Unreadable(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Column {
    Siret,
    Name,
    Cog,
    PostalCode,
}

fn column_of(header: &str) -> Option<Column> {
    let name = header
        .trim()
        .trim_start_matches('\u{feff}')
        .to_lowercase()
        .replace([' ', '-'], "_");
    match name.as_str() {
        "siret" => Some(Column::Siret),
        "nom" | "name" => Some(Column::Name),
        "cog" | "code_commune" | "code_insee" => Some(Column::Cog),
        "code_postal" | "postal_code" => Some(Column::PostalCode),
        _ => None,
    }
}

/// The separator of a CSV file: `;` when its first line has more of them than commas.
fn separator(text: &str) -> u8 {
    let first_line = text.lines().next().unwrap_or_default();
    let semicolons = first_line.matches(';').count();
    let commas = first_line.matches(',').count();
    if semicolons > commas { b';' } else { b',' }
}

/// Line numbers of byte offsets, for offsets met in increasing order (the csv reader's own
/// line count skips blank lines).
struct LineCounter<'a> {
    text: &'a str,
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> LineCounter<'a> {
        LineCounter {
            text,
            offset: 0,
            line: 1,
        }
    }

    /// The 1-based line of the record the csv reader says starts at `offset` (not before the
    /// previous offset asked for). With CRLF endings the reader's offset is that of the `\n`
    /// ending the previous line: line ends are skipped, since no record starts with one.
    fn line_at(&mut self, offset: u64) -> u64 {
        let bytes = self.text.as_bytes();
        let mut offset = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .clamp(self.offset, bytes.len());
        while bytes
            .get(offset)
            .is_some_and(|b| matches!(b, b'\r' | b'\n'))
        {
            offset += 1;
        }
        // A line ends with `\n`, `\r\n` or a lone `\r`, as the csv reader reads them.
        let newlines = (self.offset..offset)
            .filter(|&i| match bytes[i] {
                b'\n' => true,
                b'\r' => bytes.get(i + 1) != Some(&b'\n'),
                _ => false,
            })
            .count();
        self.line += newlines as u64;
        self.offset = offset;
        self.line
    }
}

/// Reads a CSV file: UTF-8 with or without BOM, `;` or `,` separated, a header line naming
/// the columns `siret`, `nom` (or `name`), `cog` and `code_postal` (or `postal_code`) in any
/// order (`cog` and `code_postal` may be left out). Blank lines are skipped. Each other line
/// is either a valid row or a rejection; the first of two lines with the same SIRET is kept.
pub fn parse(bytes: &[u8]) -> Result<Parsed, FileError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| FileError::NotUtf8)?;
    if text.trim().is_empty() {
        return Err(FileError::Empty);
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator(text))
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();

    let header = loop {
        match records.next() {
            None => return Err(FileError::Empty),
            Some(Err(e)) => return Err(FileError::Unreadable(e.to_string())),
            Some(Ok(record)) if record.iter().all(|f| f.trim().is_empty()) => continue,
            Some(Ok(record)) => break record,
        }
    };
    let mut positions: HashMap<Column, usize> = HashMap::new();
    for (index, name) in header.iter().enumerate() {
        if let Some(column) = column_of(name) {
            positions.entry(column).or_insert(index);
        }
    }
    let siret_at = *positions
        .get(&Column::Siret)
        .ok_or(FileError::MissingColumn("siret"))?;
    let name_at = *positions
        .get(&Column::Name)
        .ok_or(FileError::MissingColumn("nom"))?;
    let cog_at = positions.get(&Column::Cog).copied();
    let postal_code_at = positions.get(&Column::PostalCode).copied();

    let mut parsed = Parsed::default();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut lines = LineCounter::new(text);
    for record in records {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.line_at(p.byte()));
                parsed.rejections.push(Rejection {
                    line,
                    siret: String::new(),
                    reason: format!("Ligne illisible : {e}."),
                });
                continue;
            }
        };
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
        let cell = |at: Option<usize>| at.and_then(|i| record.get(i)).unwrap_or("").trim();
        let raw_siret = cell(Some(siret_at));
        let name = cell(Some(name_at));
        let raw_cog = cell(cog_at);
        let raw_postal_code = cell(postal_code_at);

        let mut reasons = Vec::new();
        let siret = match Siret::parse(raw_siret) {
            Ok(siret) => Some(siret.as_str().to_owned()),
            Err(e) => {
                reasons.push(format!("SIRET invalide : {e}"));
                None
            }
        };
        if name.is_empty() {
            reasons.push("Nom manquant.".to_owned());
        }
        let cog = if raw_cog.is_empty() {
            None
        } else {
            let cog = parse_cog(raw_cog);
            if cog.is_none() {
                reasons.push(format!(
                    "Code commune (COG) « {raw_cog} » invalide : 5 caractères attendus, des chiffres ou 2A/2B suivis de 3 chiffres."
                ));
            }
            cog
        };
        let postal_code = if raw_postal_code.is_empty() {
            None
        } else {
            let code = parse_postal_code(raw_postal_code);
            if code.is_none() {
                reasons.push(format!(
                    "Code postal « {raw_postal_code} » invalide : 5 chiffres attendus."
                ));
            }
            code
        };
        if let Some(siret) = &siret {
            match seen.get(siret) {
                Some(first) => reasons.push(format!(
                    "SIRET {siret} en double dans le fichier (déjà présent ligne {first})."
                )),
                None => {
                    seen.insert(siret.clone(), line);
                }
            }
        }
        match siret {
            Some(siret) if reasons.is_empty() => parsed.rows.push(ImportRow {
                line,
                siret,
                name: name.to_owned(),
                cog,
                postal_code,
            }),
            _ => parsed.rejections.push(Rejection {
                line,
                siret: raw_siret.to_owned(),
                reason: reasons.join(" "),
            }),
        }
    }
    Ok(parsed)
}

/// A collectivité created or updated by an import.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    pub line: u64,
    /// The collectivité's id, for links.
    pub id: String,
    pub siret: String,
    pub name: String,
    /// For updates: what changed, in French.
    pub changes: Vec<String>,
}

/// The outcome of an import.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub created: Vec<Applied>,
    pub updated: Vec<Applied>,
    /// Known collectivités the file changes nothing about.
    pub unchanged: usize,
    /// Lines not imported ([`apply`] leaves this empty: it holds the parsing's rejections).
    pub rejected: Vec<Rejection>,
}

/// Applies valid rows in one transaction: see [`apply_with_progress`].
pub fn apply(
    conn: &mut DbConnection,
    rows: &[ImportRow],
    actor: &str,
    now: NaiveDateTime,
) -> QueryResult<Report> {
    apply_with_progress(conn, rows, actor, now, |_| {})
}

/// Applies valid rows in one transaction: a new SIRET creates an active collectivité (kind
/// guessed from the SIREN); a known one gets the file's name, commune code (and the
/// département derived from it) and postal code — an empty cell never erases a value. Each
/// creation and change is logged as done by `actor`. `progress` is called with the number of
/// rows applied so far after every [`PROGRESS_EVERY`] rows.
pub fn apply_with_progress(
    conn: &mut DbConnection,
    rows: &[ImportRow],
    actor: &str,
    now: NaiveDateTime,
    mut progress: impl FnMut(usize),
) -> QueryResult<Report> {
    crate::db::transaction(conn, |conn| {
        let mut report = Report::default();
        let mut done = 0;
        for chunk in rows.chunks(PROGRESS_EVERY) {
            let sirets: Vec<String> = chunk.iter().map(|row| row.siret.clone()).collect();
            let existing: HashMap<String, Collectivite> =
                collectivites::find_by_sirets(conn, &sirets)?
                    .into_iter()
                    .map(|c| (c.siret.clone(), c))
                    .collect();
            for row in chunk {
                match existing.get(&row.siret) {
                    None => report.created.push(create(conn, row, actor, now)?),
                    Some(current) => match update(conn, current, row, actor, now)? {
                        Some(applied) => report.updated.push(applied),
                        None => report.unchanged += 1,
                    },
                }
            }
            done += chunk.len();
            if chunk.len() == PROGRESS_EVERY {
                progress(done);
            }
        }
        Ok(report)
    })
}

fn create(
    conn: &mut DbConnection,
    row: &ImportRow,
    actor: &str,
    now: NaiveDateTime,
) -> QueryResult<Applied> {
    let collectivite = Collectivite {
        id: crate::db::new_id(),
        siret: row.siret.clone(),
        name: row.name.clone(),
        kind: kind_from_siret(&row.siret).to_owned(),
        cog: row.cog.clone(),
        postal_code: row.postal_code.clone(),
        departement: row.departement(),
        active: true,
        had_hubee_account: false,
        created_at: now,
        updated_at: now,
    };
    collectivites::insert(conn, &collectivite)?;
    events::record(
        conn,
        now,
        actor,
        "collectivite.create",
        ("collectivite", &collectivite.id),
        Some(format!(
            "import CSV, ligne {} : {} (SIRET {})",
            row.line, row.name, row.siret
        )),
    )?;
    Ok(Applied {
        line: row.line,
        id: collectivite.id,
        siret: collectivite.siret,
        name: collectivite.name,
        changes: Vec::new(),
    })
}

fn update(
    conn: &mut DbConnection,
    current: &Collectivite,
    row: &ImportRow,
    actor: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<Applied>> {
    let mut changes = CollectiviteChanges::from_row(current);
    changes.name = row.name.clone();
    if let Some(cog) = &row.cog {
        changes.cog = Some(cog.clone());
        changes.departement = row.departement();
    }
    if let Some(postal_code) = &row.postal_code {
        changes.postal_code = Some(postal_code.clone());
    }
    let described = changes.describe_from(current);
    if described.is_empty() {
        return Ok(None);
    }
    changes.updated_at = now;
    collectivites::update(conn, &current.id, &changes)?;
    events::record(
        conn,
        now,
        actor,
        "collectivite.update",
        ("collectivite", &current.id),
        Some(format!(
            "import CSV, ligne {} : {}",
            row.line,
            described.join(" ; ")
        )),
    )?;
    Ok(Some(Applied {
        line: row.line,
        id: current.id.clone(),
        siret: current.siret.clone(),
        name: row.name.clone(),
        changes: described,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Luhn-valid SIRETs.
    const A: &str = "21075000000015";
    const B: &str = "21075000000023";
    const C: &str = "21075000000031";

    fn parse_ok(text: &str) -> Parsed {
        parse(text.as_bytes()).expect("the file parses")
    }

    fn reason(parsed: &Parsed, line: u64) -> &str {
        &parsed
            .rejections
            .iter()
            .find(|r| r.line == line)
            .unwrap_or_else(|| panic!("line {line} rejected: {parsed:?}"))
            .reason
    }

    #[test]
    fn a_lone_carriage_return_ends_a_line() {
        // Found by the property test: a header, a lone `\r`, then a control character.
        let parsed = parse_ok("siret;nom;cog;code_postal\r\x0e");
        assert_eq!(parsed.rejections.len(), 1, "{parsed:?}");
        assert_eq!(parsed.rejections[0].line, 2, "{parsed:?}");

        let parsed = parse_ok(&format!(
            "siret;nom\r{A};Ville A\rbad;Ville B\r\n{B};Ville C\nworse;Ville D"
        ));
        let lines: Vec<u64> = parsed.rejections.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![3, 5], "{parsed:?}");
        assert_eq!(parsed.rows.len(), 2, "{parsed:?}");
    }

    #[test]
    fn comma_separated_with_the_documented_header() {
        let parsed = parse_ok(&format!(
            "siret,nom,cog,code_postal\n{A},Ville A,26079,26410\n{B},\"Saint-Jean, ville\",2a004,20000\n"
        ));
        assert!(parsed.rejections.is_empty(), "{parsed:?}");
        assert_eq!(
            parsed.rows,
            vec![
                ImportRow {
                    line: 2,
                    siret: A.to_owned(),
                    name: "Ville A".to_owned(),
                    cog: Some("26079".to_owned()),
                    postal_code: Some("26410".to_owned()),
                },
                ImportRow {
                    line: 3,
                    siret: B.to_owned(),
                    name: "Saint-Jean, ville".to_owned(),
                    cog: Some("2A004".to_owned()),
                    postal_code: Some("20000".to_owned()),
                },
            ]
        );
        assert_eq!(parsed.rows[0].departement().as_deref(), Some("26"));
        assert_eq!(parsed.rows[1].departement().as_deref(), Some("2A"));
        assert_eq!(parsed.lines(), 2);
    }

    #[test]
    fn semicolons_bom_crlf_aliases_and_any_column_order() {
        let text = format!(
            "\u{feff}Postal_Code;Name;SIRET;COG\r\n97400;Saint-Denis;{A};97411\r\n\r\n; ; ;\r\n26410;Ville B;{B};\r\n"
        );
        let parsed = parse_ok(&text);
        assert!(parsed.rejections.is_empty(), "{parsed:?}");
        assert_eq!(parsed.rows.len(), 2);
        assert_eq!(parsed.rows[0].siret, A);
        assert_eq!(parsed.rows[0].name, "Saint-Denis");
        assert_eq!(parsed.rows[0].departement().as_deref(), Some("974"));
        assert_eq!(parsed.rows[0].postal_code.as_deref(), Some("97400"));
        // Blank lines are skipped but line numbers stay those of the file.
        assert_eq!(parsed.rows[1].line, 5);
        assert_eq!(parsed.rows[1].cog, None);
        assert_eq!(parsed.rows[1].departement(), None);
    }

    #[test]
    fn line_numbers_are_those_of_the_file() {
        let parsed = parse_ok(&format!(
            "siret,nom\n\n{A},\"Ville\nsur deux lignes\"\n\n{B},B\n{C},\n"
        ));
        assert_eq!(parsed.rows.len(), 2, "{parsed:?}");
        assert_eq!((parsed.rows[0].line, parsed.rows[1].line), (3, 6));
        assert_eq!(parsed.rows[0].name, "Ville\nsur deux lignes");
        assert_eq!(reason(&parsed, 7), "Nom manquant.");
    }

    #[test]
    fn optional_columns_may_be_absent_and_spaces_in_sirets_are_ignored() {
        let parsed = parse_ok("nom,siret\nVille A,210 750 000 000 15\n");
        assert_eq!(parsed.rows.len(), 1);
        assert_eq!(parsed.rows[0].siret, A);
        assert_eq!(parsed.rows[0].cog, None);
        assert_eq!(parsed.rows[0].postal_code, None);
    }

    #[test]
    fn each_rejection_reason() {
        let text = format!(
            "siret;nom;cog;code_postal\n\
             {A};Ville A;26079;26410\n\
             21075000000016;Mauvaise clé;26079;26410\n\
             2107500000;Trop court;26079;26410\n\
             2107500000001X;Lettre;26079;26410\n\
             ;Sans SIRET;26079;26410\n\
             {B};;26079;26410\n\
             {C};Code postal;26079;2641\n\
             {A};Doublon;26079;26410\n\
             21075000000049;COG;2C004;26410\n\
             21075000000057;Plusieurs;;ABCDE\n"
        );
        let parsed = parse_ok(&text);
        assert_eq!(parsed.rows.len(), 1, "{parsed:?}");
        assert_eq!(parsed.rows[0].line, 2);
        assert_eq!(parsed.rejections.len(), 9);
        assert_eq!(
            reason(&parsed, 3),
            "SIRET invalide : La clé de contrôle du SIRET est invalide."
        );
        assert_eq!(
            reason(&parsed, 4),
            "SIRET invalide : Le SIRET doit comporter 14 chiffres (10 saisis)."
        );
        assert_eq!(
            reason(&parsed, 5),
            "SIRET invalide : Le SIRET ne doit comporter que des chiffres."
        );
        assert_eq!(
            reason(&parsed, 6),
            "SIRET invalide : Le SIRET est obligatoire."
        );
        assert_eq!(reason(&parsed, 7), "Nom manquant.");
        assert_eq!(
            reason(&parsed, 8),
            "Code postal « 2641 » invalide : 5 chiffres attendus."
        );
        assert_eq!(
            reason(&parsed, 9),
            format!("SIRET {A} en double dans le fichier (déjà présent ligne 2).")
        );
        assert!(reason(&parsed, 10).starts_with("Code commune (COG) « 2C004 » invalide"));
        assert_eq!(
            reason(&parsed, 11),
            "SIRET invalide : La clé de contrôle du SIRET est invalide. Code postal « ABCDE » invalide : 5 chiffres attendus."
        );
        let rejected = parsed.rejections.iter().find(|r| r.line == 3).unwrap();
        assert_eq!(rejected.siret, "21075000000016");
    }

    #[test]
    fn la_poste_sirets_need_no_checksum() {
        let parsed = parse_ok("siret,nom\n35600000000048,Bureau de poste\n");
        assert_eq!(parsed.rows.len(), 1, "{parsed:?}");
    }

    #[test]
    fn whole_file_errors() {
        assert_eq!(parse(b""), Err(FileError::Empty));
        assert_eq!(parse(b"\xef\xbb\xbf \n\n"), Err(FileError::Empty));
        assert_eq!(
            parse(b"siret;nom\n2107500000001;Ch\xe2teau\n"),
            Err(FileError::NotUtf8)
        );
        assert_eq!(
            parse(b"nom;code_postal\nVille;26410\n"),
            Err(FileError::MissingColumn("siret"))
        );
        assert_eq!(
            parse(b"siret;ville\n21075000000015;A\n"),
            Err(FileError::MissingColumn("nom"))
        );
        assert_eq!(
            FileError::MissingColumn("nom").to_string(),
            "La colonne « nom » est absente de la première ligne (colonnes attendues : siret, nom, cog, code_postal)."
        );
    }

    #[test]
    fn a_header_alone_gives_nothing() {
        let parsed = parse_ok("siret,nom,cog,code_postal\n");
        assert_eq!(parsed, Parsed::default());
    }
}
