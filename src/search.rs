//! Text search: which collectivités, requests (through their contacts), éditeurs and people
//! contain a text, for every list's `?q=` and the staff search. One interface over the search
//! index (`search_docs`, one document per searchable row, kept in step by SQL triggers on the
//! source tables): SQLite FTS5 trigram indexes, PostgreSQL pg_trgm GIN indexes. Case and
//! accents are ignored; texts under 3 characters (no trigram) scan the documents of one kind.

use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Bool, Text};

use crate::db::DbConnection;

/// The backend of [`DbConnection`] (either database).
type Backend = <DbConnection as diesel::Connection>::Backend;

/// What a document is about, and where a match points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A collectivité: name, SIRET, commune code, postal code; points to the collectivité.
    Collectivite,
    /// A request's contact: e-mail, given and family names; points to the request.
    Contact,
    /// An éditeur: name and SIRET; points to the éditeur.
    Editeur,
    /// A staff member: e-mail; points to the member.
    Staff,
    /// An éditeur's member: e-mail; points to the éditeur.
    Member,
}

impl Kind {
    /// The `search_docs.kind` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Collectivite => "collectivite",
            Kind::Contact => "contact",
            Kind::Editeur => "editeur",
            Kind::Staff => "staff",
            Kind::Member => "member",
        }
    }

    /// The SQLite FTS5 table holding this kind's documents.
    fn fts_table(self) -> &'static str {
        match self {
            Kind::Collectivite => "search_fts_collectivite",
            Kind::Contact => "search_fts_contact",
            Kind::Editeur | Kind::Staff | Kind::Member => "search_fts_other",
        }
    }
}

/// Lower case without accents, as the PostgreSQL `search_fold` function of the search
/// migration (SQLite's trigram tokenizer folds the same way by itself).
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => out.push('a'),
            'ç' => out.push('c'),
            'è' | 'é' | 'ê' | 'ë' => out.push('e'),
            'ì' | 'í' | 'î' | 'ï' => out.push('i'),
            'ñ' => out.push('n'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' => out.push('o'),
            'ù' | 'ú' | 'û' | 'ü' => out.push('u'),
            'ý' | 'ÿ' => out.push('y'),
            'œ' => out.push_str("oe"),
            'æ' => out.push_str("ae"),
            c => out.push(c),
        }
    }
    out
}

/// A search text as the index reads it: trimmed, control characters dropped, and the same text
/// without spaces when it is a number written in groups (`213 400 017`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchText {
    /// The text, folded.
    pub folded: String,
    /// The text without spaces, when it is made of digits and spaces only and had spaces.
    pub compact: Option<String>,
}

/// Parses `q`; `None` when nothing is left to search.
pub fn parse(q: &str) -> Option<SearchText> {
    let cleaned: String = q.chars().filter(|c| !c.is_control()).collect();
    let folded = fold(cleaned.trim());
    if folded.is_empty() {
        return None;
    }
    let compact: String = folded.chars().filter(|c| !c.is_whitespace()).collect();
    let compact =
        (compact != folded && compact.bytes().all(|b| b.is_ascii_digit())).then_some(compact);
    Some(SearchText { folded, compact })
}

impl SearchText {
    /// Whether the trigram indexes can answer (3 characters or more in every variant).
    fn indexed(&self) -> bool {
        self.folded.chars().count() >= 3
            && self.compact.as_ref().is_none_or(|c| c.chars().count() >= 3)
    }

    /// The variants searched: the text, and its compact form.
    fn variants(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.folded.as_str()).chain(self.compact.as_deref())
    }
}

/// An FTS5 query matching `text` literally (a phrase string: `"`, `*`, `-`, `OR`, `NEAR(`
/// are plain text inside it).
fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// A `LIKE` pattern matching `text` anywhere (`%`, `_` and `\` escaped, `ESCAPE '\'`).
fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Marks a parameter's place in [`targets_sql`]'s text (a control character, never in SQL).
const PARAM: char = '\u{1}';

/// What a space is written as in the text PostgreSQL's trigram indexes read (see
/// [`PG_JOINED`]): a character pg_trgm keeps inside a word, seldom next to a letter otherwise.
const PG_SPACE: &str = "0";

/// The indexed expression of PostgreSQL's trigram indexes (migration `…000036`): the
/// document with its spaces written [`PG_SPACE`].
const PG_JOINED: &str = "translate(d.body, ' ', '0')";

/// Which SQL answers a search on this connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    /// SQLite FTS5 trigram `MATCH`.
    Fts5,
    /// `LIKE` on the folded text (PostgreSQL: answered by the trigram GIN index; SQLite: texts
    /// under 3 characters, a scan of one kind's documents).
    Like,
}

/// The SQL subquery selecting the `target_id` of the documents of `kind` containing `text`,
/// and its parameters, in order; each parameter's place is marked by [`PARAM`].
fn targets_sql(conn: &DbConnection, kind: Kind, text: &SearchText) -> (String, Vec<String>) {
    let engine = match conn {
        DbConnection::Sqlite(_) if text.indexed() => Engine::Fts5,
        _ => Engine::Like,
    };
    // `kind` is one of the fixed names above, never user input; written inline so that
    // PostgreSQL picks the partial trigram index of the kind.
    let kind_name = kind.as_str();
    match engine {
        Engine::Fts5 => {
            let table = kind.fts_table();
            let query = text
                .variants()
                .map(fts_phrase)
                .collect::<Vec<_>>()
                .join(" OR ");
            (
                // CROSS JOIN: the trigram index first (SQLite keeps that order), then one
                // document per match by its id; never a scan of the documents running the
                // MATCH once per row.
                format!(
                    "SELECT d.target_id FROM {table} CROSS JOIN search_docs d \
                     ON d.id = {table}.rowid \
                     WHERE {table} MATCH \u{1} AND d.kind = '{kind_name}'"
                ),
                vec![query],
            )
        }
        Engine::Like => {
            let patterns: Vec<String> = text.variants().map(like_pattern).collect();
            let variants = patterns.len();
            let (condition, params) = match conn {
                // The trigram index holds each document with its spaces written `0` (migration
                // `…000036`): asked for the text written the same way, its trigrams span the
                // spaces (« les f » is not just the trigrams of « les »). Joining words can only
                // find more documents, never fewer: each is then checked as it is.
                DbConnection::Postgresql(_) => (
                    format!(
                        "({PG_JOINED} LIKE \u{1} ESCAPE '\\' AND d.body LIKE \u{1} ESCAPE '\\')"
                    ),
                    patterns
                        .into_iter()
                        .flat_map(|p| [p.replace(' ', PG_SPACE), p])
                        .collect::<Vec<_>>(),
                ),
                DbConnection::Sqlite(_) => ("d.body LIKE \u{1} ESCAPE '\\'".to_owned(), patterns),
            };
            let conditions = vec![condition.as_str(); variants].join(" OR ");
            (
                format!(
                    "SELECT d.target_id FROM search_docs d \
                     WHERE d.kind = '{kind_name}' AND ({conditions})"
                ),
                params,
            )
        }
    }
}

/// Defers the trigram indexing of the documents the current transaction touches until
/// [`index_deferred`] (SQLite; nothing to do on PostgreSQL, whose indexes live on the documents'
/// table). Inside a SQLite write transaction, each statement that may need undoing on its own
/// makes FTS5 write what it holds into a new index segment (to be merged later): a batch of
/// many small writes then pays for one segment per write. Deferred, the batch lists the
/// documents it touches (`search_pending`, migration `…000034`) and indexes them in one
/// segment. Call both inside the same transaction: the switch is a row of that transaction,
/// so a rollback turns it off again and no reader ever sees an unindexed document.
pub fn defer_indexing(conn: &mut DbConnection) -> QueryResult<()> {
    use diesel::connection::SimpleConnection;
    match conn {
        DbConnection::Sqlite(_) => conn.batch_execute("UPDATE search_deferral SET deferred = 1"),
        DbConnection::Postgresql(_) => Ok(()),
    }
}

/// Indexes the documents touched since [`defer_indexing`] (deleted ones leave the index,
/// changed ones are indexed with their current text) and turns deferral off.
pub fn index_deferred(conn: &mut DbConnection) -> QueryResult<()> {
    use diesel::connection::SimpleConnection;
    if matches!(conn, DbConnection::Postgresql(_)) {
        return Ok(());
    }
    // CROSS JOIN: the few pending documents first, each read by its id (never a scan of the
    // documents looking each one up in the list).
    let mut sql = String::from("UPDATE search_deferral SET deferred = 0;");
    for (table, kinds) in [
        ("search_fts_collectivite", "kind = 'collectivite'"),
        ("search_fts_contact", "kind = 'contact'"),
        (
            "search_fts_other",
            "kind NOT IN ('collectivite', 'contact')",
        ),
    ] {
        sql.push_str(&format!(
            "DELETE FROM {table} WHERE rowid IN \
               (SELECT doc_id FROM search_pending WHERE indexed = 1 AND {kinds}); \
             INSERT INTO {table} (rowid, body) SELECT d.id, d.body \
               FROM search_pending p CROSS JOIN search_docs d ON d.id = p.doc_id \
               WHERE d.{kinds};"
        ));
    }
    sql.push_str("DELETE FROM search_pending;");
    conn.batch_execute(&sql)
}

/// At most this many documents of one kind answer a list's search: a text found in more (a
/// common name, « saint ») gives a list drawn from the first ones, and [`TargetIn::capped`]
/// tells the page to say so. Keeps a list search's work bounded at national scale (« dubois »
/// is in 24 000 contacts there), counts included.
pub const LIST_CAP: i64 = 1000;

/// A condition for a list query's filter: `<column> IN (the targets of the first
/// [`LIST_CAP`] documents of `kind` containing the text)`, the targets read once from the
/// index when the condition is built and bound as one JSON array (a list runs its count and
/// its page with them: one index search per view). `column` is a fixed SQL column name such
/// as `collectivites.id`.
#[derive(Clone, Debug)]
pub struct TargetIn {
    sql: Vec<String>,
    params: Vec<String>,
    /// More than [`LIST_CAP`] documents of one kind contain the text: the list is partial.
    pub capped: bool,
}

/// `column IN (…)` for documents of one kind containing `text` (see [`TargetIn`]); several
/// kinds are OR-ed with [`any_target_in`].
pub fn target_in(
    conn: &mut DbConnection,
    column: &'static str,
    kind: Kind,
    text: &SearchText,
) -> QueryResult<TargetIn> {
    any_target_in(conn, &[(column, kind)], text)
}

/// `column IN (targets of every document of `kind` containing `text`)`, as a subquery the
/// database runs with the list's own query: no cap, for lists already narrowed to a small
/// scope by another condition (an éditeur's own clients), which must never be partial.
pub fn target_in_all(
    conn: &DbConnection,
    column: &'static str,
    kind: Kind,
    text: &SearchText,
) -> TargetIn {
    let (subquery, values) = targets_sql(conn, kind, text);
    let mut sql = Vec::new();
    let mut pieces = subquery.split(PARAM);
    let mut head = format!("{column} IN ({}", pieces.next().unwrap_or_default());
    for piece in pieces {
        sql.push(std::mem::take(&mut head));
        head.push_str(piece);
    }
    head.push(')');
    sql.push(head);
    TargetIn {
        sql,
        params: values,
        capped: false,
    }
}

/// The targets of the first [`LIST_CAP`] documents of one kind containing a text.
#[derive(Clone, Debug, Default)]
pub struct Targets {
    /// Sorted, each once.
    pub ids: Vec<String>,
    /// More than [`LIST_CAP`] documents contain the text: the ids are drawn from the first.
    pub capped: bool,
}

/// The targets of the first [`LIST_CAP`] documents of `kind` containing `text`, read from the
/// index.
pub fn targets(conn: &mut DbConnection, kind: Kind, text: &SearchText) -> QueryResult<Targets> {
    #[derive(QueryableByName)]
    struct Target {
        #[diesel(sql_type = Text)]
        target_id: String,
    }
    let (subquery, values) = targets_sql(conn, kind, text);
    let found: Vec<Target> =
        bound(conn, &format!("{subquery} LIMIT {}", LIST_CAP + 1), values).load(conn)?;
    let capped = found.len() as i64 > LIST_CAP;
    let mut ids: Vec<String> = found
        .into_iter()
        .take(LIST_CAP as usize)
        .map(|t| t.target_id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(Targets { ids, capped })
}

/// `(c1 IN (…kind 1…) OR c2 IN (…kind 2…))` for the same text.
pub fn any_target_in(
    conn: &mut DbConnection,
    parts: &[(&'static str, Kind)],
    text: &SearchText,
) -> QueryResult<TargetIn> {
    let mut sql = Vec::new();
    let mut params = Vec::new();
    let mut capped = false;
    let mut head = String::from("(");
    let mut first = true;
    for (column, kind) in parts {
        let found = targets(conn, *kind, text)?;
        capped |= found.capped;
        let ids = found.ids;
        // A kind without a match adds no term: a constant `OR` term would keep SQLite from
        // reading the matches through the index (a scan of the list instead).
        if ids.is_empty() {
            continue;
        }
        if !first {
            head.push_str(" OR ");
        }
        first = false;
        // The ids as one JSON array parameter: the statement's text does not depend on how
        // many there are, so it is prepared once and cached (a thousand `?` cost a tenth of a
        // search to parse), and SQLite reads them through the index of `column`.
        head.push_str(column);
        head.push_str(match conn {
            DbConnection::Sqlite(_) => " IN (SELECT value FROM json_each(",
            DbConnection::Postgresql(_) => " IN (SELECT jsonb_array_elements_text(CAST(",
        });
        sql.push(std::mem::take(&mut head));
        params.push(
            serde_json::to_string(&ids)
                .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?,
        );
        head.push_str(match conn {
            DbConnection::Sqlite(_) => "))",
            DbConnection::Postgresql(_) => " AS jsonb)))",
        });
    }
    if first {
        // Nothing matches: a false condition the index still answers (`1 = 0` would make
        // SQLite scan the list when OR-ed with another indexed term).
        head.push_str(parts.first().map_or("NULL", |(column, _)| column));
        head.push_str(" IN (NULL)");
    }
    head.push(')');
    sql.push(head);
    Ok(TargetIn {
        sql,
        params,
        capped,
    })
}

impl Expression for TargetIn {
    type SqlType = Bool;
}

impl<QS> AppearsOnTable<QS> for TargetIn {}

impl<QS> SelectableExpression<QS> for TargetIn {}

impl ValidGrouping<()> for TargetIn {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl QueryId for TargetIn {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Backend> for TargetIn {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Backend>) -> QueryResult<()> {
        // The text depends only on the columns, the kinds matched and the search variants,
        // never on the values (all bound): safe to prepare once and cache.
        for (i, piece) in self.sql.iter().enumerate() {
            out.push_sql(piece);
            if let Some(value) = self.params.get(i) {
                out.push_bind_param::<Text, String>(value)?;
            }
        }
        Ok(())
    }
}

/// One matching document: its source row, its target and its text (folded on PostgreSQL).
#[derive(Clone, Debug, QueryableByName)]
pub struct Doc {
    #[diesel(sql_type = Text)]
    pub source_id: String,
    #[diesel(sql_type = Text)]
    pub target_id: String,
    #[diesel(sql_type = Text)]
    pub body: String,
}

/// Up to `limit` documents of `kind` containing `text`, in index order (for ranking by the
/// caller).
pub fn documents(
    conn: &mut DbConnection,
    kind: Kind,
    text: &SearchText,
    limit: i64,
) -> QueryResult<Vec<Doc>> {
    let (subquery, values) = targets_sql(conn, kind, text);
    // The same subquery, selecting the whole document.
    let sql = format!(
        "{} LIMIT {}",
        subquery.replacen(
            "SELECT d.target_id",
            "SELECT d.source_id, d.target_id, d.body",
            1,
        ),
        limit.max(1)
    );
    bound(conn, &sql, values).load(conn)
}

/// `sql` with each [`PARAM`] mark replaced by the backend's placeholder and `values` bound.
fn bound(
    conn: &DbConnection,
    sql: &str,
    values: Vec<String>,
) -> diesel::query_builder::BoxedSqlQuery<'static, Backend, diesel::query_builder::SqlQuery> {
    debug_assert_eq!(
        values.len(),
        sql.matches(PARAM).count(),
        "one value per mark"
    );
    let mut text = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == PARAM {
            n += 1;
            match conn {
                DbConnection::Sqlite(_) => text.push('?'),
                DbConnection::Postgresql(_) => text.push_str(&format!("${n}")),
            }
        } else {
            text.push(c);
        }
    }
    let mut query = diesel::sql_query(text).into_boxed::<Backend>();
    for value in values {
        query = query.bind::<Text, _>(value);
    }
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_lowers_and_drops_accents() {
        assert_eq!(fold("Béziers"), "beziers");
        assert_eq!(fold("ÎLE-DE-FRANCE Cœur"), "ile-de-france coeur");
    }

    #[test]
    fn parse_keeps_a_grouped_number_compact() {
        let text = parse(" 213 400 017 ").unwrap();
        assert_eq!(text.folded, "213 400 017");
        assert_eq!(text.compact.as_deref(), Some("213400017"));
        assert_eq!(parse("Saint Jean").unwrap().compact, None);
        assert_eq!(parse("  \u{7} "), None);
    }

    #[test]
    fn fts_phrase_quotes_syntax_characters() {
        assert_eq!(fts_phrase("a\"b* OR NEAR("), "\"a\"\"b* OR NEAR(\"");
    }

    #[test]
    fn the_indexed_expression_writes_spaces_as_the_pattern_does() {
        assert_eq!(PG_JOINED, format!("translate(d.body, ' ', '{PG_SPACE}')"));
    }

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(like_pattern("50%_\\"), "%50\\%\\_\\\\%");
    }
}
