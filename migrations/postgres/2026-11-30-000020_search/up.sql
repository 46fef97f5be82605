-- Search (issues 14 and 15): one document per searchable row, kept in step by triggers on the
-- source tables (no writer in Rust maintains it), its text folded (lower case, no accents) and
-- indexed by trigrams (pg_trgm GIN, one partial index per large kind) for `LIKE '%…%'`.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Lower case without accents; `qf_backoffice::search::fold` does the same to the query.
CREATE FUNCTION search_fold(input TEXT) RETURNS TEXT LANGUAGE SQL IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT replace(replace(translate(lower(input),
        'ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝŸàáâãäåçèéêëìíîïñòóôõöùúûüýÿ',
        'aaaaaaceeeeiiiinooooouuuuyyaaaaaaceeeeiiiinooooouuuuyy'), 'œ', 'oe'), 'æ', 'ae')
$$;

-- search_docs: kind (collectivite, contact, editeur, staff, member), the source row, the row a
-- match points to (a contact points to its request, a member to its éditeur) and the text.
CREATE TABLE search_docs (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    source_id TEXT NOT NULL,
    target_id TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE UNIQUE INDEX search_docs_source_idx ON search_docs (kind, source_id);

CREATE FUNCTION search_collectivites_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_docs WHERE kind = 'collectivite' AND source_id = OLD.id;
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM search_docs WHERE kind = 'collectivite' AND source_id = OLD.id;
    END IF;
    INSERT INTO search_docs (kind, source_id, target_id, body)
    VALUES ('collectivite', NEW.id, NEW.id, search_fold(NEW.name || ' ' || NEW.siret || ' ' || coalesce(NEW.cog, '') || ' ' || coalesce(NEW.postal_code, '')))
    ON CONFLICT (kind, source_id) DO UPDATE
        SET target_id = EXCLUDED.target_id, body = EXCLUDED.body;
    RETURN NEW;
END
$$;
CREATE TRIGGER search_collectivites_sync AFTER INSERT OR DELETE OR UPDATE OF id, name, siret, cog, postal_code ON collectivites
    FOR EACH ROW EXECUTE FUNCTION search_collectivites_sync();

CREATE FUNCTION search_request_contacts_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_docs WHERE kind = 'contact' AND source_id = OLD.id;
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM search_docs WHERE kind = 'contact' AND source_id = OLD.id;
    END IF;
    INSERT INTO search_docs (kind, source_id, target_id, body)
    VALUES ('contact', NEW.id, NEW.request_id, search_fold(NEW.email || ' ' || coalesce(NEW.given_name, '') || ' ' || coalesce(NEW.family_name, '')))
    ON CONFLICT (kind, source_id) DO UPDATE
        SET target_id = EXCLUDED.target_id, body = EXCLUDED.body;
    RETURN NEW;
END
$$;
CREATE TRIGGER search_request_contacts_sync AFTER INSERT OR DELETE OR UPDATE OF id, request_id, email, given_name, family_name ON request_contacts
    FOR EACH ROW EXECUTE FUNCTION search_request_contacts_sync();

CREATE FUNCTION search_editeurs_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_docs WHERE kind = 'editeur' AND source_id = OLD.id;
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM search_docs WHERE kind = 'editeur' AND source_id = OLD.id;
    END IF;
    INSERT INTO search_docs (kind, source_id, target_id, body)
    VALUES ('editeur', NEW.id, NEW.id, search_fold(NEW.name || ' ' || NEW.siret))
    ON CONFLICT (kind, source_id) DO UPDATE
        SET target_id = EXCLUDED.target_id, body = EXCLUDED.body;
    RETURN NEW;
END
$$;
CREATE TRIGGER search_editeurs_sync AFTER INSERT OR DELETE OR UPDATE OF id, name, siret ON editeurs
    FOR EACH ROW EXECUTE FUNCTION search_editeurs_sync();

CREATE FUNCTION search_staff_members_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_docs WHERE kind = 'staff' AND source_id = OLD.id;
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM search_docs WHERE kind = 'staff' AND source_id = OLD.id;
    END IF;
    INSERT INTO search_docs (kind, source_id, target_id, body)
    VALUES ('staff', NEW.id, NEW.id, search_fold(NEW.email))
    ON CONFLICT (kind, source_id) DO UPDATE
        SET target_id = EXCLUDED.target_id, body = EXCLUDED.body;
    RETURN NEW;
END
$$;
CREATE TRIGGER search_staff_members_sync AFTER INSERT OR DELETE OR UPDATE OF id, email ON staff_members
    FOR EACH ROW EXECUTE FUNCTION search_staff_members_sync();

CREATE FUNCTION search_editeur_members_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_docs WHERE kind = 'member' AND source_id = OLD.id;
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM search_docs WHERE kind = 'member' AND source_id = OLD.id;
    END IF;
    INSERT INTO search_docs (kind, source_id, target_id, body)
    VALUES ('member', NEW.id, NEW.editeur_id, search_fold(NEW.email))
    ON CONFLICT (kind, source_id) DO UPDATE
        SET target_id = EXCLUDED.target_id, body = EXCLUDED.body;
    RETURN NEW;
END
$$;
CREATE TRIGGER search_editeur_members_sync AFTER INSERT OR DELETE OR UPDATE OF id, editeur_id, email ON editeur_members
    FOR EACH ROW EXECUTE FUNCTION search_editeur_members_sync();

-- The rows already there.
INSERT INTO search_docs (kind, source_id, target_id, body)
SELECT 'collectivite', t.id, t.id, search_fold(t.name || ' ' || t.siret || ' ' || coalesce(t.cog, '') || ' ' || coalesce(t.postal_code, '')) FROM collectivites t;
INSERT INTO search_docs (kind, source_id, target_id, body)
SELECT 'contact', t.id, t.request_id, search_fold(t.email || ' ' || coalesce(t.given_name, '') || ' ' || coalesce(t.family_name, '')) FROM request_contacts t;
INSERT INTO search_docs (kind, source_id, target_id, body)
SELECT 'editeur', t.id, t.id, search_fold(t.name || ' ' || t.siret) FROM editeurs t;
INSERT INTO search_docs (kind, source_id, target_id, body)
SELECT 'staff', t.id, t.id, search_fold(t.email) FROM staff_members t;
INSERT INTO search_docs (kind, source_id, target_id, body)
SELECT 'member', t.id, t.editeur_id, search_fold(t.email) FROM editeur_members t;

-- Trigram indexes, built once the rows are in.
CREATE INDEX search_docs_collectivite_trgm ON search_docs USING gin (body gin_trgm_ops)
    WHERE kind = 'collectivite';
CREATE INDEX search_docs_contact_trgm ON search_docs USING gin (body gin_trgm_ops)
    WHERE kind = 'contact';
CREATE INDEX search_docs_other_trgm ON search_docs USING gin (body gin_trgm_ops)
    WHERE kind NOT IN ('collectivite', 'contact');
ANALYZE search_docs;
