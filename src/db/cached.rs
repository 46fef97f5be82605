//! Writes whose prepared statement each connection keeps, keyed by their SQL text.
//!
//! diesel never keeps the statement of an `UPDATE` (nor of a `sql_query`, nor of a `sql()`
//! literal): it cannot key them by their Rust type, their text may change from one call to the
//! next. Its cache can also key a statement by its text, which is always right: the types here
//! build the same SQL without the mark that forbids it. On SQLite, preparing an `UPDATE`
//! compiles every trigger of its table again: on the webhook's writer, that was a tenth of its
//! time. For the same reason every `Insertable` struct says `treat_none_as_default_value = false`: an optional
//! field otherwise writes `DEFAULT` on PostgreSQL, and diesel never keeps such an `INSERT`
//! (no nullable column has another default).

use std::marker::PhantomData;

use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::query_builder::{AsChangeset, AstPass, QueryFragment, QueryId};
use diesel::query_dsl::RunQueryDsl;
use diesel::query_source::Table;
use diesel::result::QueryResult;
use diesel::sql_types::{BoolOrNullableBool, Nullable, SingleValue, Text};

use super::DbConnection;

/// The backend of [`DbConnection`] (either database).
type Backend = <DbConnection as diesel::Connection>::Backend;

/// `UPDATE table SET values WHERE filter`, as `diesel::update(table.filter(filter))
/// .set(values)` writes it, prepared once per connection.
#[derive(Debug, Clone)]
pub struct Update<F, W, C> {
    from: F,
    filter: W,
    values: C,
}

/// `UPDATE table SET values WHERE filter`, prepared once per connection: for statements whose
/// text is fixed by the call site (a changeset with optional fields has one text per set of
/// fields present, each kept). The changeset must set at least one column: unlike diesel's,
/// an empty one is not caught before the database refuses it.
pub fn update<T, W, V>(table: T, filter: W, values: V) -> Update<T::FromClause, W, V::Changeset>
where
    T: Table,
    W: Expression + AppearsOnTable<T>,
    W::SqlType: BoolOrNullableBool,
    V: AsChangeset<Target = T>,
{
    Update {
        from: table.from_clause(),
        filter,
        values: values.as_changeset(),
    }
}

impl<F, W, C> QueryFragment<Backend> for Update<F, W, C>
where
    F: QueryFragment<Backend>,
    W: QueryFragment<Backend>,
    C: QueryFragment<Backend>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Backend>) -> QueryResult<()> {
        out.push_sql("UPDATE ");
        self.from.walk_ast(out.reborrow())?;
        out.push_sql(" SET ");
        self.values.walk_ast(out.reborrow())?;
        out.push_sql(" WHERE ");
        self.filter.walk_ast(out.reborrow())?;
        Ok(())
    }
}

impl<F, W, C> QueryId for Update<F, W, C> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<F, W, C, Conn> RunQueryDsl<Conn> for Update<F, W, C> {}

/// A statement written by the code, its values bound as (nullable) text in the order of its
/// `?` marks (written `$n` on PostgreSQL), prepared once per connection and text.
#[derive(Debug, Clone)]
pub struct TextStatement {
    pieces: Vec<String>,
    values: Vec<Option<String>>,
}

impl TextStatement {
    /// `sql` comes from the code, never from user input, and holds no `?` but its marks; a
    /// statement with more or fewer values than marks fails when run, binding nothing.
    pub fn new(sql: &str, values: Vec<Option<String>>) -> TextStatement {
        let pieces: Vec<String> = sql.split('?').map(str::to_owned).collect();
        TextStatement { pieces, values }
    }
}

impl QueryFragment<Backend> for TextStatement {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Backend>) -> QueryResult<()> {
        if self.pieces.len() != self.values.len() + 1 {
            return Err(diesel::result::Error::QueryBuilderError(
                format!(
                    "{} valeurs pour {} marques",
                    self.values.len(),
                    self.pieces.len() - 1
                )
                .into(),
            ));
        }
        for (i, piece) in self.pieces.iter().enumerate() {
            if i > 0 {
                out.push_bind_param::<Nullable<Text>, _>(&self.values[i - 1])?;
            }
            out.push_sql(piece);
        }
        Ok(())
    }
}

impl QueryId for TextStatement {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Conn> RunQueryDsl<Conn> for TextStatement {}

/// An SQL expression of type `ST` written by the code (no bound value), for a `SELECT` whose
/// statement is kept: `diesel::dsl::sql` would have it prepared on every call.
#[derive(Debug, Clone, Copy)]
pub struct Fixed<ST> {
    sql: &'static str,
    kind: PhantomData<ST>,
}

/// `sql` comes from the code, never from user input.
pub fn fixed<ST>(sql: &'static str) -> Fixed<ST> {
    Fixed {
        sql,
        kind: PhantomData,
    }
}

impl<ST: SingleValue> Expression for Fixed<ST> {
    type SqlType = ST;
}

impl<ST, QS> AppearsOnTable<QS> for Fixed<ST> where Fixed<ST>: Expression {}

impl<ST, QS> SelectableExpression<QS> for Fixed<ST> where Fixed<ST>: Expression {}

impl<ST> ValidGrouping<()> for Fixed<ST> {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl<ST> QueryId for Fixed<ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST> QueryFragment<Backend> for Fixed<ST> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Backend>) -> QueryResult<()> {
        out.push_sql(self.sql);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use diesel::connection::{Connection, InstrumentationEvent, SimpleConnection};
    use diesel::prelude::*;

    use super::*;
    use crate::db::schema::events;

    /// The SQL texts a fresh SQLite connection prepares for its cache while `work` runs twice.
    fn prepared_for_cache(work: impl Fn(&mut DbConnection)) -> Vec<String> {
        let mut conn = DbConnection::Sqlite(
            diesel::SqliteConnection::establish(":memory:").expect("in-memory SQLite"),
        );
        conn.batch_execute(
            "CREATE TABLE events (id TEXT PRIMARY KEY, occurred_at TIMESTAMP NOT NULL, \
             actor TEXT NOT NULL, action TEXT NOT NULL, target_type TEXT NOT NULL, \
             target_id TEXT NOT NULL, details TEXT)",
        )
        .expect("table");
        let kept = Arc::new(Mutex::new(Vec::new()));
        let seen = kept.clone();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::CacheQuery { sql, .. } = event {
                seen.lock().expect("lock").push(sql.to_owned());
            }
        });
        work(&mut conn);
        work(&mut conn);
        kept.lock().expect("lock").clone()
    }

    #[test]
    fn an_update_is_prepared_once_and_diesels_on_every_call() {
        let diesels = prepared_for_cache(|conn| {
            let changed = diesel::update(events::table.find("e1"))
                .set(events::actor.eq("x"))
                .execute(conn);
            assert_eq!(changed.expect("update"), 0);
        });
        assert_eq!(diesels, Vec::<String>::new());
        let kept = prepared_for_cache(|conn| {
            let changed = update(
                events::table,
                events::id.eq("e1"),
                (events::actor.eq("x"), events::details.eq(None::<String>)),
            )
            .execute(conn);
            assert_eq!(changed.expect("update"), 0);
        });
        assert_eq!(
            kept,
            ["UPDATE `events` SET `actor` = ?, `details` = ? WHERE (`events`.`id` = ?)"]
        );
    }

    #[test]
    fn an_update_changes_the_rows_of_its_filter_only() {
        let mut conn = DbConnection::Sqlite(
            diesel::SqliteConnection::establish(":memory:").expect("in-memory SQLite"),
        );
        conn.batch_execute(
            "CREATE TABLE events (id TEXT PRIMARY KEY, occurred_at TIMESTAMP NOT NULL, \
             actor TEXT NOT NULL, action TEXT NOT NULL, target_type TEXT NOT NULL, \
             target_id TEXT NOT NULL, details TEXT); \
             INSERT INTO events VALUES ('e1', '2026-12-01 00:00:00', 'a', 'b', 'c', 'd', NULL), \
             ('e2', '2026-12-01 00:00:00', 'a', 'b', 'c', 'd', NULL);",
        )
        .expect("table");
        let changed = update(
            events::table,
            events::id.eq("e2"),
            (events::actor.eq("y"), events::details.eq(Some("z"))),
        )
        .execute(&mut conn)
        .expect("update");
        assert_eq!(changed, 1);
        let rows: Vec<(String, String, Option<String>)> = events::table
            .order(events::id)
            .select((events::id, events::actor, events::details))
            .load(&mut conn)
            .expect("rows");
        assert_eq!(
            rows,
            [
                ("e1".to_owned(), "a".to_owned(), None),
                ("e2".to_owned(), "y".to_owned(), Some("z".to_owned())),
            ]
        );
    }

    #[test]
    fn a_text_statement_and_a_fixed_expression_are_prepared_once() {
        let kept = prepared_for_cache(|conn| {
            TextStatement::new(
                "INSERT INTO events (id, occurred_at, actor, action, target_type, target_id, \
                 details) VALUES (?, '2026-12-01 00:00:00', ?, 'b', 'c', 'd', ?)",
                vec![Some(crate::db::new_id()), Some("a".to_owned()), None],
            )
            .execute(conn)
            .expect("insert");
            let n: i64 = diesel::select(fixed::<diesel::sql_types::BigInt>(
                "(SELECT count(*) FROM events)",
            ))
            .get_result(conn)
            .expect("count");
            assert!(n >= 1);
        });
        assert_eq!(kept.len(), 2, "{kept:?}");
    }

    #[test]
    fn a_text_statement_with_a_value_missing_fails_and_writes_nothing() {
        prepared_for_cache(|conn| {
            let missing = TextStatement::new(
                "INSERT INTO events (id, occurred_at, actor, action, target_type, target_id, \
                 details) VALUES (?, '2026-12-01 00:00:00', ?, 'b', 'c', 'd', ?)",
                vec![Some("e9".to_owned()), Some("a".to_owned())],
            )
            .execute(conn);
            assert!(missing.is_err());
            let n: i64 = events::table.count().get_result(conn).expect("count");
            assert_eq!(n, 0);
        });
    }
}
