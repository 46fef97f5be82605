//! Database access: the connection enum over SQLite and PostgreSQL, its pool, and the
//! embedded migrations of each backend.

pub mod cached;
pub mod condition;
pub mod paging;
pub mod schema;
pub mod types;

pub use paging::{
    Page, clamp_page, contains_pattern, new_id, now, offset, page_count, page_of, slice,
};

use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

diesel::define_sql_function! {
    /// SQL `lower(text)`, for case-insensitive search on both backends.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// One connection to either backend; queries written once run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// Where the data lives, as chosen by `DATABASE_URL`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// A SQLite file (its folder is created when missing).
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://…`).
    Postgres(String),
}

impl DatabaseLocation {
    /// The backend's name, for logs and pages.
    pub fn backend(&self) -> &'static str {
        match self {
            DatabaseLocation::Sqlite(_) => "SQLite",
            DatabaseLocation::Postgres(_) => "PostgreSQL",
        }
    }

    /// A description safe to log: the SQLite path, or the PostgreSQL URL without its password.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseLocation::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseLocation::Postgres(url) => match url::Url::parse(url) {
                Ok(mut parsed) => {
                    if parsed.password().is_some() {
                        let _ = parsed.set_password(Some("***"));
                    }
                    parsed.to_string()
                }
                Err(_) => "postgres://…".to_owned(),
            },
        }
    }
}

/// Statements slower than this many milliseconds are logged (0: none); set at start from
/// `SLOW_QUERY_MS` by [`set_slow_query_ms`].
static SLOW_QUERY_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(250);

/// Sets the slow-statement threshold of every connection (milliseconds, 0 logs none).
pub fn set_slow_query_ms(ms: u64) {
    SLOW_QUERY_MS.store(ms, std::sync::atomic::Ordering::Relaxed);
}

/// The default page cache of each SQLite connection, in MiB (SQLite's own is 2 MiB): a list
/// search at national scale reads a few MiB of index pages, which a 2 MiB cache read back from
/// the file at every view.
pub const DEFAULT_SQLITE_CACHE_MIB: u32 = 8;

/// The page cache of each new SQLite connection, in MiB; set at start from `SQLITE_CACHE_MIB`
/// by [`set_sqlite_cache_mib`].
static SQLITE_CACHE_MIB: std::sync::atomic::AtomicU32 =
    std::sync::atomic::AtomicU32::new(DEFAULT_SQLITE_CACHE_MIB);

/// Sets the page cache of the SQLite connections opened from now on (MiB).
pub fn set_sqlite_cache_mib(mib: u32) {
    SQLITE_CACHE_MIB.store(mib, std::sync::atomic::Ordering::Relaxed);
}

fn slow_query_threshold() -> Option<Duration> {
    let ms = SLOW_QUERY_MS.load(std::sync::atomic::Ordering::Relaxed);
    (ms > 0).then(|| Duration::from_millis(ms))
}

/// A connection's instrumentation: logs each statement slower than [`slow_query_threshold`]
/// with its duration and its SQL text, never its bound values (addresses, keys).
#[derive(Default)]
struct SlowQueries {
    started: Option<std::time::Instant>,
}

impl diesel::connection::Instrumentation for SlowQueries {
    fn on_connection_event(&mut self, event: diesel::connection::InstrumentationEvent<'_>) {
        use diesel::connection::InstrumentationEvent;
        let Some(threshold) = slow_query_threshold() else {
            return;
        };
        match event {
            InstrumentationEvent::StartQuery { .. } => {
                self.started = Some(std::time::Instant::now());
            }
            InstrumentationEvent::FinishQuery { query, .. } => {
                if let Some(elapsed) = self.started.take().map(|t| t.elapsed())
                    && elapsed >= threshold
                {
                    let text = query.to_string();
                    let sql = text.split(" -- binds:").next().unwrap_or_default();
                    tracing::warn!(
                        ms = elapsed.as_millis() as u64,
                        sql = %one_line(sql),
                        "requête SQL lente"
                    );
                }
            }
            _ => {}
        }
    }
}

/// Logs the connection's slow statements, unless a process-wide instrumentation is set
/// (diesel's default instrumentation, which tests use to count statements): that one stays.
fn instrument(conn: &mut impl diesel::Connection) {
    if diesel::connection::get_default_instrumentation().is_none() {
        conn.set_instrumentation(SlowQueries::default());
    }
}

/// Opens one connection of the backend the location names, with per-connection settings.
pub fn establish(location: &DatabaseLocation) -> Result<DbConnection, diesel::ConnectionError> {
    match location {
        DatabaseLocation::Postgres(url) => {
            let mut conn = PgConnection::establish(url)?;
            instrument(&mut conn);
            conn.batch_execute("SET TIME ZONE 'UTC'")
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(DbConnection::Postgresql(conn))
        }
        DatabaseLocation::Sqlite(path) => {
            let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
            instrument(&mut conn);
            let cache_kib =
                u64::from(SQLITE_CACHE_MIB.load(std::sync::atomic::Ordering::Relaxed)) * 1024;
            // `busy_timeout` first: the other settings may wait for a lock.
            conn.batch_execute(&format!(
                "PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}; \
                 PRAGMA cache_size = -{cache_kib}; \
                 PRAGMA journal_mode = WAL; \
                 PRAGMA synchronous = NORMAL; \
                 PRAGMA foreign_keys = ON; \
                 PRAGMA temp_store = MEMORY; \
                 PRAGMA wal_autocheckpoint = 8192; \
                 PRAGMA journal_size_limit = 67108864;"
            ))
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(DbConnection::Sqlite(conn))
        }
    }
}

/// How long a SQLite connection waits for a lock before giving up.
const BUSY_TIMEOUT_MS: u32 = 5000;

/// The r2d2 manager: builds connections for one location.
#[derive(Debug)]
pub struct Manager {
    location: DatabaseLocation,
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = diesel::ConnectionError;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        establish(&self.location)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

/// A pool of connections to the configured database.
pub type Pool = r2d2::Pool<Manager>;
/// A connection checked out of the pool.
pub type PooledConnection = r2d2::PooledConnection<Manager>;

/// Builds the pool (creating the SQLite folder when needed) and checks one connection opens.
pub fn build_pool(location: &DatabaseLocation, max_size: u32) -> anyhow::Result<Pool> {
    if let DatabaseLocation::Sqlite(path) = location
        && let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| {
            anyhow::anyhow!(
                "DATABASE_URL : impossible de créer le dossier {} ({e})",
                parent.display()
            )
        })?;
    }
    // Open one connection now so that a wrong URL fails at start with the real cause.
    let first = match establish(location) {
        Err(e) if is_missing_database(&e) => {
            create_postgres_database(location)?;
            establish(location)
        }
        other => other,
    };
    first.map_err(|e| {
        anyhow::anyhow!(
            "DATABASE_URL : connexion impossible à {} ({})",
            location.redacted(),
            one_line(&e.to_string())
        )
    })?;
    let manager = Manager {
        location: location.clone(),
    };
    let pool = r2d2::Pool::builder()
        .max_size(max_size)
        .connection_timeout(Duration::from_secs(10))
        // A PostgreSQL connection can be closed by the server between two uses: checked
        // before each use. An SQLite connection is a file handle: no check (one statement
        // less on every checkout, several per page view).
        .test_on_check_out(matches!(location, DatabaseLocation::Postgres(_)))
        .build_unchecked(manager);
    Ok(pool)
}

fn is_missing_database(error: &diesel::ConnectionError) -> bool {
    matches!(error, diesel::ConnectionError::BadConnection(m) if m.contains("does not exist"))
}

/// Creates the database a PostgreSQL URL names, through the `postgres` maintenance database.
fn create_postgres_database(location: &DatabaseLocation) -> anyhow::Result<()> {
    let DatabaseLocation::Postgres(url) = location else {
        return Ok(());
    };
    let mut parsed = url::Url::parse(url)?;
    let name = parsed.path().trim_start_matches('/').to_owned();
    if name.is_empty() || name.contains('"') {
        anyhow::bail!("DATABASE_URL : nom de base PostgreSQL invalide");
    }
    parsed.set_path("/postgres");
    let mut admin = PgConnection::establish(parsed.as_str()).map_err(|e| {
        anyhow::anyhow!(
            "DATABASE_URL : la base « {name} » n'existe pas et ne peut être créée ({})",
            one_line(&e.to_string())
        )
    })?;
    admin
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .map_err(|e| {
            anyhow::anyhow!("DATABASE_URL : création de la base « {name} » impossible ({e})")
        })?;
    tracing::info!(database = %name, "base PostgreSQL créée");
    Ok(())
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Applies every pending migration of the connection's backend; returns the versions applied.
pub fn run_migrations(conn: &mut DbConnection) -> anyhow::Result<Vec<String>> {
    let applied = match conn {
        DbConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
    }
    .map_err(|e| anyhow::anyhow!("migrations : {e}"))?;
    Ok(applied.iter().map(|v| v.to_string()).collect())
}

/// Refreshes SQLite's planner statistics where they are missing or stale (`PRAGMA optimize`,
/// at most 1 000 rows sampled per index; at national scale 130 ms without statistics, 3 ms
/// with them): the list queries rely on the planner preferring covering indexes, which it
/// does only with statistics. PostgreSQL keeps its own (autovacuum); nothing to do there.
pub fn refresh_statistics(conn: &mut DbConnection) -> QueryResult<()> {
    match conn {
        DbConnection::Postgresql(_) => Ok(()),
        DbConnection::Sqlite(c) => {
            c.batch_execute("PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002;")
        }
    }
}

/// Reverts every applied migration (used by tests and by operators starting over).
pub fn revert_all_migrations(conn: &mut DbConnection) -> anyhow::Result<Vec<String>> {
    let reverted = match conn {
        DbConnection::Postgresql(c) => c.revert_all_migrations(POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS),
    }
    .map_err(|e| anyhow::anyhow!("migrations : {e}"))?;
    Ok(reverted.iter().map(|v| v.to_string()).collect())
}

/// The in-process writer lock of each SQLite file, by path.
static SQLITE_WRITERS: Mutex<BTreeMap<String, Arc<Mutex<()>>>> = Mutex::new(BTreeMap::new());

thread_local! {
    /// Whether this thread already holds a writer lock (a nested transaction is a savepoint
    /// of the connection that holds it).
    static HOLDS_WRITER: Cell<bool> = const { Cell::new(false) };
    /// Inside [`batch`]: nested transactions open no savepoint, and a failing one spoils the
    /// batch (`Some(true)`).
    static BATCH_SPOILED: Cell<Option<bool>> = const { Cell::new(None) };
}

/// The writer lock of the SQLite file `conn` is open on (none for an in-memory database).
fn sqlite_writer(conn: &mut DbConnection) -> QueryResult<Option<Arc<Mutex<()>>>> {
    let path: String = diesel::select(cached::fixed::<diesel::sql_types::Text>(
        "(SELECT file FROM pragma_database_list WHERE name = 'main')",
    ))
    .get_result(conn)?;
    if path.is_empty() {
        return Ok(None);
    }
    let mut writers = SQLITE_WRITERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(Some(writers.entry(path).or_default().clone()))
}

/// Clears [`HOLDS_WRITER`] when the transaction ends, even by a panic.
struct WriterHeld;

impl Drop for WriterHeld {
    fn drop(&mut self) {
        HOLDS_WRITER.with(|held| held.set(false));
    }
}

/// Runs `work` in a transaction that writes. On SQLite, writers of the same file in this
/// process take their turn on an in-process lock (a queue, instead of SQLite's busy-wait
/// sleeps), then the write lock is taken first (a no-op UPDATE): a deferred transaction that
/// reads, then writes after another connection committed, would fail with `SQLITE_BUSY`
/// instead of waiting its turn. Other processes still wait through `busy_timeout`.
pub fn transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    if let Some(spoiled) = BATCH_SPOILED.with(Cell::get) {
        let result = work(conn);
        if result.is_err() && !spoiled {
            BATCH_SPOILED.with(|b| b.set(Some(true)));
        }
        return result;
    }
    let writer = match conn {
        DbConnection::Sqlite(_) if !HOLDS_WRITER.with(Cell::get) => sqlite_writer(conn)?,
        _ => None,
    };
    let _turn = writer.as_ref().map(|lock| {
        let guard = lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        HOLDS_WRITER.with(|held| held.set(true));
        (guard, WriterHeld)
    });
    conn.transaction(|conn| {
        if let DbConnection::Sqlite(_) = conn {
            cached::TextStatement::new(
                "UPDATE __diesel_schema_migrations SET version = version WHERE 1 = 0",
                Vec::new(),
            )
            .execute(conn)?;
        }
        work(conn)
    })
}

/// Why [`batch`] gave up.
#[derive(Debug)]
pub enum BatchError<E> {
    /// A nested [`transaction`] failed: everything was rolled back, to be done again one
    /// transaction at a time.
    Spoiled,
    /// The batch's own work or its commit failed (rolled back).
    Failed(E),
}

impl<E> From<diesel::result::Error> for BatchError<E>
where
    E: From<diesel::result::Error>,
{
    fn from(e: diesel::result::Error) -> Self {
        BatchError::Failed(E::from(e))
    }
}

/// Resets [`BATCH_SPOILED`] when the batch ends, even by a panic.
struct BatchOpen;

impl Drop for BatchOpen {
    fn drop(&mut self) {
        BATCH_SPOILED.with(|b| b.set(None));
    }
}

/// Runs `work` in one [`transaction`] in which nested transactions open no savepoint: many
/// small units of work then share one commit. Savepoints are what makes them expensive on
/// SQLite (each one flushes the full-text indexes into a new segment and journals the pages
/// it touches). The price: a nested transaction that fails cannot be undone alone, so the
/// whole batch is rolled back and [`BatchError::Spoiled`] tells the caller to do the work again
/// one transaction at a time.
pub fn batch<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, BatchError<E>>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    transaction(conn, |conn| {
        let _open = BatchOpen;
        BATCH_SPOILED.with(|b| b.set(Some(false)));
        let result = work(conn);
        // Spoiled first: on PostgreSQL, what follows a failed statement fails too.
        if BATCH_SPOILED.with(Cell::get) == Some(true) {
            return Err(BatchError::Spoiled);
        }
        result.map_err(BatchError::Failed)
    })
}

/// How often the WAL checkpointer copies the WAL back into a SQLite database.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(250);

/// On SQLite, copies the WAL back into the database every [`CHECKPOINT_INTERVAL`] until the
/// runtime stops (`PASSIVE`: never waits for readers or writers). Writers then restart the
/// WAL from its beginning instead of growing it, and `journal_size_limit` trims the file;
/// the commit-time checkpoint (`wal_autocheckpoint`, 32 MB) is only a fallback, so a writer
/// holding the write lock rarely pays for a checkpoint's fsyncs.
pub fn spawn_checkpointer(pool: Pool, location: &DatabaseLocation) {
    if !matches!(location, DatabaseLocation::Sqlite(_)) {
        return;
    }
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(CHECKPOINT_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let pool = pool.clone();
            let done = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                let mut conn = pool.get()?;
                checkpoint(&mut conn)?;
                Ok(())
            })
            .await;
            match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %format!("{e:#}"), "checkpoint du WAL"),
                Err(e) => tracing::warn!(error = %e, "checkpoint du WAL"),
            }
        }
    });
}

/// A passive checkpoint (never waits), then, when the WAL has grown long, a restarting one
/// that waits at most [`RESTART_WAIT_MS`] for the writer and the readers: under a steady
/// stream of commits the frames committed while a passive checkpoint copies are always left
/// behind, the WAL never starts again from its beginning, and it grows until the commit-time
/// checkpoint makes the writer itself copy it. The restarting checkpoint copies the few
/// frames left and lets the next writer start the WAL again; once it has the lock, it holds
/// the writer back while it copies them and syncs the database.
pub fn checkpoint(conn: &mut DbConnection) -> QueryResult<()> {
    /// Frames (4 KiB pages) in the WAL above which the WAL is started again.
    const LONG_WAL_FRAMES: i64 = 1024;
    /// How long the restarting checkpoint may hold back the writer.
    const RESTART_WAIT_MS: u32 = 20;
    #[derive(diesel::QueryableByName)]
    struct Checkpoint {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        log: i64,
    }
    let done: Checkpoint = diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result(conn)?;
    if done.log < LONG_WAL_FRAMES {
        return Ok(());
    }
    conn.batch_execute(&format!("PRAGMA busy_timeout = {RESTART_WAIT_MS}"))?;
    let restarted = diesel::sql_query("PRAGMA wal_checkpoint(RESTART)").execute(conn);
    conn.batch_execute(&format!("PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}"))?;
    restarted.map(|_| ())
}

/// A cheap round trip that reads the schema, for the health check: it fails when the
/// database is gone, not only when the connection is.
pub fn ping(conn: &mut DbConnection) -> QueryResult<()> {
    conn.batch_execute("SELECT COUNT(*) FROM __diesel_schema_migrations")
}
