DROP TRIGGER search_docs_deferred_ai;
DROP TRIGGER search_docs_deferred_ad;
DROP TRIGGER search_docs_deferred_au;
DROP TRIGGER search_docs_collectivite_ai;
DROP TRIGGER search_docs_collectivite_ad;
DROP TRIGGER search_docs_collectivite_au;
DROP TRIGGER search_docs_contact_ai;
DROP TRIGGER search_docs_contact_ad;
DROP TRIGGER search_docs_contact_au;
DROP TRIGGER search_docs_other_ai;
DROP TRIGGER search_docs_other_ad;
DROP TRIGGER search_docs_other_au;

CREATE TRIGGER search_docs_collectivite_ai AFTER INSERT ON search_docs WHEN NEW.kind = 'collectivite' BEGIN
    INSERT INTO search_fts_collectivite (rowid, body) VALUES (NEW.id, NEW.body);
END;
CREATE TRIGGER search_docs_collectivite_ad AFTER DELETE ON search_docs WHEN OLD.kind = 'collectivite' BEGIN
    DELETE FROM search_fts_collectivite WHERE rowid = OLD.id;
END;
CREATE TRIGGER search_docs_collectivite_au AFTER UPDATE OF body ON search_docs WHEN NEW.kind = 'collectivite' BEGIN
    DELETE FROM search_fts_collectivite WHERE rowid = OLD.id;
    INSERT INTO search_fts_collectivite (rowid, body) VALUES (NEW.id, NEW.body);
END;
CREATE TRIGGER search_docs_contact_ai AFTER INSERT ON search_docs WHEN NEW.kind = 'contact' BEGIN
    INSERT INTO search_fts_contact (rowid, body) VALUES (NEW.id, NEW.body);
END;
CREATE TRIGGER search_docs_contact_ad AFTER DELETE ON search_docs WHEN OLD.kind = 'contact' BEGIN
    DELETE FROM search_fts_contact WHERE rowid = OLD.id;
END;
CREATE TRIGGER search_docs_contact_au AFTER UPDATE OF body ON search_docs WHEN NEW.kind = 'contact' BEGIN
    DELETE FROM search_fts_contact WHERE rowid = OLD.id;
    INSERT INTO search_fts_contact (rowid, body) VALUES (NEW.id, NEW.body);
END;
CREATE TRIGGER search_docs_other_ai AFTER INSERT ON search_docs WHEN NEW.kind NOT IN ('collectivite', 'contact') BEGIN
    INSERT INTO search_fts_other (rowid, body) VALUES (NEW.id, NEW.body);
END;
CREATE TRIGGER search_docs_other_ad AFTER DELETE ON search_docs WHEN OLD.kind NOT IN ('collectivite', 'contact') BEGIN
    DELETE FROM search_fts_other WHERE rowid = OLD.id;
END;
CREATE TRIGGER search_docs_other_au AFTER UPDATE OF body ON search_docs WHEN NEW.kind NOT IN ('collectivite', 'contact') BEGIN
    DELETE FROM search_fts_other WHERE rowid = OLD.id;
    INSERT INTO search_fts_other (rowid, body) VALUES (NEW.id, NEW.body);
END;

DROP TABLE search_pending;
DROP TABLE search_deferral;
