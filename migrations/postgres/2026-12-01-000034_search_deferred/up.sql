-- Deferred search indexing is for SQLite's FTS5 only (see the SQLite migration of the same
-- name): PostgreSQL's trigram indexes live on search_docs itself. Nothing to change here.
SELECT 1;
