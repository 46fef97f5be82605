-- Search (issues 14 and 15): one document per searchable row, kept in step by triggers on the
-- source tables (no writer in Rust maintains it), and FTS5 trigram indexes over the documents
-- (substring matching for 3 characters or more, case and accents ignored).
--
-- search_docs: kind (collectivite, contact, editeur, staff, member), the source row, the row a
-- match points to (a contact points to its request, a member to its éditeur) and the text.
CREATE TABLE search_docs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    source_id TEXT NOT NULL,
    target_id TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE UNIQUE INDEX search_docs_source_idx ON search_docs (kind, source_id);

-- One trigram index per large kind (a collectivité search does not walk 500 000 contacts), one
-- for the small kinds. Contentless: the text lives in search_docs; rowid = search_docs.id.

CREATE VIRTUAL TABLE search_fts_collectivite USING fts5(body, content='', contentless_delete=1, tokenize='trigram remove_diacritics 1');
CREATE VIRTUAL TABLE search_fts_contact USING fts5(body, content='', contentless_delete=1, tokenize='trigram remove_diacritics 1');
CREATE VIRTUAL TABLE search_fts_other USING fts5(body, content='', contentless_delete=1, tokenize='trigram remove_diacritics 1');

-- search_docs -> the trigram index of its kind.
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

-- Source tables -> search_docs.
CREATE TRIGGER search_collectivites_ai AFTER INSERT ON collectivites BEGIN
    INSERT INTO search_docs (kind, source_id, target_id, body)
    VALUES ('collectivite', NEW.id, NEW.id, NEW.name || ' ' || NEW.siret || ' ' || coalesce(NEW.cog, '') || ' ' || coalesce(NEW.postal_code, ''));
END;
CREATE TRIGGER search_collectivites_au AFTER UPDATE OF id, name, siret, cog, postal_code ON collectivites BEGIN
    UPDATE search_docs SET source_id = NEW.id, target_id = NEW.id, body = NEW.name || ' ' || NEW.siret || ' ' || coalesce(NEW.cog, '') || ' ' || coalesce(NEW.postal_code, '')
    WHERE kind = 'collectivite' AND source_id = OLD.id;
END;
CREATE TRIGGER search_collectivites_ad AFTER DELETE ON collectivites BEGIN
    DELETE FROM search_docs WHERE kind = 'collectivite' AND source_id = OLD.id;
END;
CREATE TRIGGER search_request_contacts_ai AFTER INSERT ON request_contacts BEGIN
    INSERT INTO search_docs (kind, source_id, target_id, body)
    VALUES ('contact', NEW.id, NEW.request_id, NEW.email || ' ' || coalesce(NEW.given_name, '') || ' ' || coalesce(NEW.family_name, ''));
END;
CREATE TRIGGER search_request_contacts_au AFTER UPDATE OF id, request_id, email, given_name, family_name ON request_contacts BEGIN
    UPDATE search_docs SET source_id = NEW.id, target_id = NEW.request_id, body = NEW.email || ' ' || coalesce(NEW.given_name, '') || ' ' || coalesce(NEW.family_name, '')
    WHERE kind = 'contact' AND source_id = OLD.id;
END;
CREATE TRIGGER search_request_contacts_ad AFTER DELETE ON request_contacts BEGIN
    DELETE FROM search_docs WHERE kind = 'contact' AND source_id = OLD.id;
END;
CREATE TRIGGER search_editeurs_ai AFTER INSERT ON editeurs BEGIN
    INSERT INTO search_docs (kind, source_id, target_id, body)
    VALUES ('editeur', NEW.id, NEW.id, NEW.name || ' ' || NEW.siret);
END;
CREATE TRIGGER search_editeurs_au AFTER UPDATE OF id, name, siret ON editeurs BEGIN
    UPDATE search_docs SET source_id = NEW.id, target_id = NEW.id, body = NEW.name || ' ' || NEW.siret
    WHERE kind = 'editeur' AND source_id = OLD.id;
END;
CREATE TRIGGER search_editeurs_ad AFTER DELETE ON editeurs BEGIN
    DELETE FROM search_docs WHERE kind = 'editeur' AND source_id = OLD.id;
END;
CREATE TRIGGER search_staff_members_ai AFTER INSERT ON staff_members BEGIN
    INSERT INTO search_docs (kind, source_id, target_id, body)
    VALUES ('staff', NEW.id, NEW.id, NEW.email);
END;
CREATE TRIGGER search_staff_members_au AFTER UPDATE OF id, email ON staff_members BEGIN
    UPDATE search_docs SET source_id = NEW.id, target_id = NEW.id, body = NEW.email
    WHERE kind = 'staff' AND source_id = OLD.id;
END;
CREATE TRIGGER search_staff_members_ad AFTER DELETE ON staff_members BEGIN
    DELETE FROM search_docs WHERE kind = 'staff' AND source_id = OLD.id;
END;
CREATE TRIGGER search_editeur_members_ai AFTER INSERT ON editeur_members BEGIN
    INSERT INTO search_docs (kind, source_id, target_id, body)
    VALUES ('member', NEW.id, NEW.editeur_id, NEW.email);
END;
CREATE TRIGGER search_editeur_members_au AFTER UPDATE OF id, editeur_id, email ON editeur_members BEGIN
    UPDATE search_docs SET source_id = NEW.id, target_id = NEW.editeur_id, body = NEW.email
    WHERE kind = 'member' AND source_id = OLD.id;
END;
CREATE TRIGGER search_editeur_members_ad AFTER DELETE ON editeur_members BEGIN
    DELETE FROM search_docs WHERE kind = 'member' AND source_id = OLD.id;
END;

-- The rows already there.
INSERT INTO search_docs (kind, source_id, target_id, body)
SELECT 'collectivite', t.id, t.id, t.name || ' ' || t.siret || ' ' || coalesce(t.cog, '') || ' ' || coalesce(t.postal_code, '') FROM collectivites t;
INSERT INTO search_docs (kind, source_id, target_id, body)
SELECT 'contact', t.id, t.request_id, t.email || ' ' || coalesce(t.given_name, '') || ' ' || coalesce(t.family_name, '') FROM request_contacts t;
INSERT INTO search_docs (kind, source_id, target_id, body)
SELECT 'editeur', t.id, t.id, t.name || ' ' || t.siret FROM editeurs t;
INSERT INTO search_docs (kind, source_id, target_id, body)
SELECT 'staff', t.id, t.id, t.email FROM staff_members t;
INSERT INTO search_docs (kind, source_id, target_id, body)
SELECT 'member', t.id, t.editeur_id, t.email FROM editeur_members t;
