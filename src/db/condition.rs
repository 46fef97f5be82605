//! A fixed SQL condition written by the code (never user input) that a statement can be
//! prepared once and cached with: diesel's `sql()` literal marks every statement it is part of
//! as never cacheable, which had the queue parse its SQL again on every view.

use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::sql_types::Bool;

use super::DbConnection;

/// The backend of [`DbConnection`] (either database).
type Backend = <DbConnection as diesel::Connection>::Backend;

/// A boolean SQL condition whose text is fixed by the code for a given call site (column
/// names, literal constants), with at most one bound text value: the statement cache keys it
/// by its text.
#[derive(Clone, Debug)]
pub struct Condition {
    head: String,
    /// The bound value and the SQL after it.
    bound: Option<(String, String)>,
}

impl Condition {
    /// `sql` must come from the code, never from user input (it is not escaped).
    pub fn new(sql: String) -> Condition {
        Condition {
            head: sql,
            bound: None,
        }
    }

    /// `head ? tail` with `value` bound as text at the mark. `head` and `tail` must come from
    /// the code, never from user input (they are not escaped).
    pub fn with_value(head: &str, value: String, tail: &str) -> Condition {
        Condition {
            head: head.to_owned(),
            bound: Some((value, tail.to_owned())),
        }
    }

    /// `column IN (ids)`, the ids bound as one JSON array: the statement's text does not
    /// depend on how many there are (diesel's `eq_any` with a list is prepared again on every
    /// call on SQLite). `column` is a fixed column name such as `tokens.id`.
    pub fn one_of(conn: &DbConnection, column: &'static str, ids: &[String]) -> Condition {
        let (open, close) = match conn {
            DbConnection::Sqlite(_) => (" IN (SELECT value FROM json_each(", "))"),
            DbConnection::Postgresql(_) => (
                " IN (SELECT jsonb_array_elements_text(CAST(",
                " AS jsonb)))",
            ),
        };
        // A list of strings always serializes.
        let json = serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned());
        Condition {
            head: format!("{column}{open}"),
            bound: Some((json, close.to_owned())),
        }
    }
}

impl Expression for Condition {
    type SqlType = Bool;
}

impl<QS> AppearsOnTable<QS> for Condition {}

impl<QS> SelectableExpression<QS> for Condition {}

impl ValidGrouping<()> for Condition {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl QueryId for Condition {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Backend> for Condition {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Backend>) -> QueryResult<()> {
        out.push_sql(&self.head);
        if let Some((value, tail)) = &self.bound {
            out.push_bind_param::<diesel::sql_types::Text, String>(value)?;
            out.push_sql(tail);
        }
        Ok(())
    }
}
