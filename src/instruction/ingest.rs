//! Group commit of DataPass webhook deliveries on SQLite. One writer thread, with a connection
//! of its own, applies the deliveries waiting in its queue in one transaction.
//! A burst of events then pays for one commit per batch (and one search-index segment) instead
//! of one per event, and the writer's page cache stays warm: no other connection's commit
//! invalidates it. A delivery that fails inside the database sends its batch back to one
//! transaction per delivery (see [`receive_batch`]); a batch whose commit fails answers each of
//! its deliveries with the error, so DataPass sends them again.
//!
//! PostgreSQL does not go through here: its writers run concurrently (see the webhook route).

use std::sync::Mutex;
use std::sync::mpsc;

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;

use super::datapass::{Processed, receive};
use crate::db::{DatabaseLocation, DbConnection};

/// At most this many deliveries share one transaction.
pub const MAX_BATCH: usize = 64;

/// The writer connection's page cache, in KiB (SQLite's default is 2 MiB).
const WRITER_CACHE_KIB: u32 = 8 * 1024;

/// The writer's commit-time checkpoint threshold, in WAL frames (4 KiB pages): twice the
/// pool's, so that the background checkpointer (`db::spawn_checkpointer`, on another core)
/// copies the WAL back and the writer seldom has to.
const WRITER_AUTOCHECKPOINT_FRAMES: u32 = 16_384;

/// Why a delivery got no answer from the writer.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The database refused the delivery or its batch (rolled back).
    #[error("base de données : {0}")]
    Database(#[from] diesel::result::Error),
    /// The writer connection could not be opened.
    #[error("connexion impossible : {0}")]
    Connection(String),
    /// The writer stopped before answering (a panic while applying its batch).
    #[error("écriture interrompue")]
    Interrupted,
}

/// One delivery waiting for the writer.
struct Job {
    body: actix_web::web::Bytes,
    received_at: NaiveDateTime,
    reply: tokio::sync::oneshot::Sender<Result<Processed, IngestError>>,
}

/// The queue in front of the writer thread, started on the first delivery.
pub struct Ingest {
    location: DatabaseLocation,
    queue: Mutex<Option<mpsc::Sender<Job>>>,
}

impl Ingest {
    /// A queue writing to `location` (only SQLite locations are meant to use it).
    pub fn new(location: DatabaseLocation) -> Ingest {
        Ingest {
            location,
            queue: Mutex::new(None),
        }
    }

    /// Queues one verified body and waits for its batch to commit.
    pub async fn receive(
        &self,
        body: actix_web::web::Bytes,
        received_at: NaiveDateTime,
    ) -> Result<Processed, IngestError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.send(Job {
            body,
            received_at,
            reply,
        })?;
        answer.await.map_err(|_| IngestError::Interrupted)?
    }

    /// Hands `job` to the writer, starting (or restarting) its thread when needed.
    fn send(&self, job: Job) -> Result<(), IngestError> {
        let mut queue = self
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let job = match queue.as_ref() {
            Some(sender) => match sender.send(job) {
                Ok(()) => return Ok(()),
                // The writer stopped (a panic): a new one takes over.
                Err(mpsc::SendError(job)) => job,
            },
            None => job,
        };
        let (sender, receiver) = mpsc::channel();
        let location = self.location.clone();
        std::thread::Builder::new()
            .name("qf-webhook-writer".into())
            .spawn(move || write_loop(&location, &receiver))
            .map_err(|e| IngestError::Connection(e.to_string()))?;
        sender.send(job).map_err(|_| IngestError::Interrupted)?;
        *queue = Some(sender);
        Ok(())
    }
}

/// The writer thread: takes what is waiting (at most [`MAX_BATCH`]), applies it in one
/// transaction, answers each delivery, and ends when the queue is dropped.
fn write_loop(location: &DatabaseLocation, receiver: &mpsc::Receiver<Job>) {
    let mut conn: Option<DbConnection> = None;
    while let Ok(first) = receiver.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        if conn.is_none() {
            match open_writer(location) {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::error!(error = %e, "webhook DataPass : connexion d'écriture");
                    for job in jobs {
                        let _ = job.reply.send(Err(IngestError::Connection(e.to_string())));
                    }
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let deliveries: Vec<(&[u8], NaiveDateTime)> = jobs
            .iter()
            .map(|job| (job.body.as_ref(), job.received_at))
            .collect();
        let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            receive_batch(c, &deliveries)
        }));
        drop(deliveries);
        match applied {
            Ok(Ok(results)) => {
                for (job, result) in jobs.into_iter().zip(results) {
                    let _ = job.reply.send(result.map_err(IngestError::from));
                }
            }
            Ok(Err(e)) => {
                tracing::error!(error = %crate::error::cause_chain(&e), "webhook DataPass : lot annulé");
                for job in jobs {
                    let _ = job.reply.send(Err(IngestError::Database(clone_error(&e))));
                }
            }
            Err(_) => {
                // The connection may be left inside a transaction: a new one is opened.
                conn = None;
                tracing::error!("webhook DataPass : panique pendant l'écriture d'un lot");
                for job in jobs {
                    let _ = job.reply.send(Err(IngestError::Interrupted));
                }
            }
        }
    }
}

/// The writer's own connection, with its own page cache and a later commit-time checkpoint
/// than the pool's.
fn open_writer(location: &DatabaseLocation) -> Result<DbConnection, IngestError> {
    let mut conn =
        crate::db::establish(location).map_err(|e| IngestError::Connection(e.to_string()))?;
    conn.batch_execute(&format!(
        "PRAGMA cache_size = -{WRITER_CACHE_KIB}; \
         PRAGMA wal_autocheckpoint = {WRITER_AUTOCHECKPOINT_FRAMES}"
    ))?;
    Ok(conn)
}

/// The same error for each delivery of a failed batch (diesel's errors are not `Clone`).
fn clone_error(e: &diesel::result::Error) -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(e.to_string().into())
}

/// Applies `deliveries` in order, each with the result [`receive`] would have given alone (a
/// later duplicate of an earlier body of the same batch is answered as a duplicate). First all
/// in one transaction without savepoints ([`crate::db::batch`]); when one of them fails inside
/// the database (rolled back, or kept as failed), everything is rolled back and each delivery
/// gets a transaction of its own. The outer error is the shared commit's. The batch indexes
/// the search documents it touches once, before its commit ([`crate::search::defer_indexing`]).
pub fn receive_batch(
    conn: &mut DbConnection,
    deliveries: &[(&[u8], NaiveDateTime)],
) -> diesel::QueryResult<Vec<diesel::QueryResult<Processed>>> {
    if deliveries.len() > 1 {
        let together = crate::db::batch(conn, |conn| {
            crate::search::defer_indexing(conn)?;
            let processed = deliveries
                .iter()
                .map(|(body, received_at)| receive(conn, body, *received_at))
                .collect::<diesel::QueryResult<Vec<Processed>>>()?;
            crate::search::index_deferred(conn)?;
            Ok::<_, diesel::result::Error>(processed)
        });
        match together {
            Ok(processed) => return Ok(processed.into_iter().map(Ok).collect()),
            Err(crate::db::BatchError::Spoiled) => {}
            Err(crate::db::BatchError::Failed(e)) => return Err(e),
        }
    }
    Ok(deliveries
        .iter()
        .map(|(body, received_at)| receive(conn, body, *received_at))
        .collect())
}
