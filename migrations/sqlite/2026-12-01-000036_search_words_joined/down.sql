-- PostgreSQL only (its trigram indexes read the search documents with their spaces joined);
-- SQLite's FTS5 trigram index already keeps the spaces in its trigrams.
SELECT 1;
