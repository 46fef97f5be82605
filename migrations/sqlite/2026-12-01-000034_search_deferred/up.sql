-- Deferred search indexing for batches of writes (issue 14). Inside a write transaction on
-- SQLite, every statement that may need undoing on its own (most writes that fire triggers)
-- first makes FTS5 flush the documents it holds in memory into a new index segment, and each
-- segment costs a merge later: the webhook's group commit wrote one segment per event. A batch
-- now turns `search_deferral.deferred` on inside its transaction: the documents it touches are
-- listed in search_pending instead, and `search::index_deferred` indexes them all at once
-- before the batch commits (one segment per batch). Readers never see the difference: the
-- switch, the list and the index change in the same transaction. Without the switch's row,
-- indexing is direct (`IS NOT 1`): a missing row never stops the index.
CREATE TABLE search_deferral (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    deferred INTEGER NOT NULL
);
INSERT INTO search_deferral (id, deferred) VALUES (1, 0);

-- A document touched while indexing is deferred: `indexed` when it was in the trigram index
-- before (first touched by an update or a delete), with the kind it was indexed under.
CREATE TABLE search_pending (
    doc_id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    indexed INTEGER NOT NULL
);

DROP TRIGGER search_docs_collectivite_ai;
DROP TRIGGER search_docs_collectivite_ad;
DROP TRIGGER search_docs_collectivite_au;
DROP TRIGGER search_docs_contact_ai;
DROP TRIGGER search_docs_contact_ad;
DROP TRIGGER search_docs_contact_au;
DROP TRIGGER search_docs_other_ai;
DROP TRIGGER search_docs_other_ad;
DROP TRIGGER search_docs_other_au;

CREATE TRIGGER search_docs_collectivite_ai AFTER INSERT ON search_docs WHEN NEW.kind = 'collectivite' AND (SELECT deferred FROM search_deferral) IS NOT 1 BEGIN
    INSERT INTO search_fts_collectivite (rowid, body) VALUES (NEW.id, NEW.body);
END;
CREATE TRIGGER search_docs_collectivite_ad AFTER DELETE ON search_docs WHEN OLD.kind = 'collectivite' AND (SELECT deferred FROM search_deferral) IS NOT 1 BEGIN
    DELETE FROM search_fts_collectivite WHERE rowid = OLD.id;
END;
CREATE TRIGGER search_docs_collectivite_au AFTER UPDATE OF body ON search_docs WHEN NEW.kind = 'collectivite' AND (SELECT deferred FROM search_deferral) IS NOT 1 BEGIN
    DELETE FROM search_fts_collectivite WHERE rowid = OLD.id;
    INSERT INTO search_fts_collectivite (rowid, body) VALUES (NEW.id, NEW.body);
END;
CREATE TRIGGER search_docs_contact_ai AFTER INSERT ON search_docs WHEN NEW.kind = 'contact' AND (SELECT deferred FROM search_deferral) IS NOT 1 BEGIN
    INSERT INTO search_fts_contact (rowid, body) VALUES (NEW.id, NEW.body);
END;
CREATE TRIGGER search_docs_contact_ad AFTER DELETE ON search_docs WHEN OLD.kind = 'contact' AND (SELECT deferred FROM search_deferral) IS NOT 1 BEGIN
    DELETE FROM search_fts_contact WHERE rowid = OLD.id;
END;
CREATE TRIGGER search_docs_contact_au AFTER UPDATE OF body ON search_docs WHEN NEW.kind = 'contact' AND (SELECT deferred FROM search_deferral) IS NOT 1 BEGIN
    DELETE FROM search_fts_contact WHERE rowid = OLD.id;
    INSERT INTO search_fts_contact (rowid, body) VALUES (NEW.id, NEW.body);
END;
CREATE TRIGGER search_docs_other_ai AFTER INSERT ON search_docs WHEN NEW.kind NOT IN ('collectivite', 'contact') AND (SELECT deferred FROM search_deferral) IS NOT 1 BEGIN
    INSERT INTO search_fts_other (rowid, body) VALUES (NEW.id, NEW.body);
END;
CREATE TRIGGER search_docs_other_ad AFTER DELETE ON search_docs WHEN OLD.kind NOT IN ('collectivite', 'contact') AND (SELECT deferred FROM search_deferral) IS NOT 1 BEGIN
    DELETE FROM search_fts_other WHERE rowid = OLD.id;
END;
CREATE TRIGGER search_docs_other_au AFTER UPDATE OF body ON search_docs WHEN NEW.kind NOT IN ('collectivite', 'contact') AND (SELECT deferred FROM search_deferral) IS NOT 1 BEGIN
    DELETE FROM search_fts_other WHERE rowid = OLD.id;
    INSERT INTO search_fts_other (rowid, body) VALUES (NEW.id, NEW.body);
END;

CREATE TRIGGER search_docs_deferred_ai AFTER INSERT ON search_docs
WHEN (SELECT deferred FROM search_deferral) = 1 BEGIN
    INSERT OR IGNORE INTO search_pending (doc_id, kind, indexed) VALUES (NEW.id, NEW.kind, 0);
END;
CREATE TRIGGER search_docs_deferred_ad AFTER DELETE ON search_docs
WHEN (SELECT deferred FROM search_deferral) = 1 BEGIN
    INSERT OR IGNORE INTO search_pending (doc_id, kind, indexed) VALUES (OLD.id, OLD.kind, 1);
END;
CREATE TRIGGER search_docs_deferred_au AFTER UPDATE OF body ON search_docs
WHEN (SELECT deferred FROM search_deferral) = 1 BEGIN
    INSERT OR IGNORE INTO search_pending (doc_id, kind, indexed) VALUES (OLD.id, OLD.kind, 1);
END;
