-- Requests per (form, éditeur recorded on the request) pair, '' for none, kept exact by
-- triggers: an éditeur's client requests (recorded for it, or made through one of its forms)
-- are summed from a few hundred rows instead of counted over every request.
CREATE TABLE request_link_counts (
    form_uid TEXT NOT NULL,
    editeur_id TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (form_uid, editeur_id)
);
CREATE INDEX request_link_counts_editeur_idx ON request_link_counts (editeur_id);

INSERT INTO request_link_counts (form_uid, editeur_id, n)
    SELECT form_uid, coalesce(editeur_id, ''), count(*) FROM habilitation_requests
    GROUP BY form_uid, coalesce(editeur_id, '');

CREATE TRIGGER request_links_count_insert AFTER INSERT ON habilitation_requests BEGIN
    INSERT INTO request_link_counts (form_uid, editeur_id, n)
        VALUES (NEW.form_uid, coalesce(NEW.editeur_id, ''), 1)
        ON CONFLICT (form_uid, editeur_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER request_links_count_update AFTER UPDATE OF form_uid, editeur_id ON habilitation_requests
WHEN OLD.form_uid IS NOT NEW.form_uid OR OLD.editeur_id IS NOT NEW.editeur_id BEGIN
    UPDATE request_link_counts SET n = n - 1
        WHERE form_uid = OLD.form_uid AND editeur_id = coalesce(OLD.editeur_id, '');
    INSERT INTO request_link_counts (form_uid, editeur_id, n)
        VALUES (NEW.form_uid, coalesce(NEW.editeur_id, ''), 1)
        ON CONFLICT (form_uid, editeur_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER request_links_count_delete AFTER DELETE ON habilitation_requests BEGIN
    UPDATE request_link_counts SET n = n - 1
        WHERE form_uid = OLD.form_uid AND editeur_id = coalesce(OLD.editeur_id, '');
END;

-- Collectivités per département (row_counts list 'departements'): the département filter of
-- the lists reads these rows instead of seeking every département in the index per view.
INSERT INTO row_counts (list, bucket, n)
    SELECT 'departements', departement, count(*) FROM collectivites
    WHERE departement IS NOT NULL GROUP BY departement;
CREATE TRIGGER departements_count_insert AFTER INSERT ON collectivites
WHEN NEW.departement IS NOT NULL BEGIN
    INSERT INTO row_counts (list, bucket, n) VALUES ('departements', NEW.departement, 1)
        ON CONFLICT (list, bucket) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER departements_count_update AFTER UPDATE OF departement ON collectivites
WHEN OLD.departement IS NOT NEW.departement BEGIN
    UPDATE row_counts SET n = n - 1 WHERE list = 'departements' AND bucket = OLD.departement;
    INSERT INTO row_counts (list, bucket, n)
        SELECT 'departements', NEW.departement, 1 WHERE NEW.departement IS NOT NULL
        ON CONFLICT (list, bucket) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER departements_count_delete AFTER DELETE ON collectivites
WHEN OLD.departement IS NOT NULL BEGIN
    UPDATE row_counts SET n = n - 1 WHERE list = 'departements' AND bucket = OLD.departement;
END;

-- The token counts (status totals, window, month chart) sum ranges of per-day counters: an
-- index holding the count itself answers them without reading the table (1 000 row reads
-- per sum before).
CREATE INDEX token_expiry_counts_cover_idx ON token_expiry_counts (expires_on, revoked, n);
