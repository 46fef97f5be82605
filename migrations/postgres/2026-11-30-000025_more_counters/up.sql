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

CREATE FUNCTION request_links_count_trigger() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE request_link_counts SET n = n - 1
            WHERE form_uid = OLD.form_uid AND editeur_id = coalesce(OLD.editeur_id, '');
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO request_link_counts (form_uid, editeur_id, n)
            VALUES (NEW.form_uid, coalesce(NEW.editeur_id, ''), 1)
            ON CONFLICT (form_uid, editeur_id) DO UPDATE SET n = request_link_counts.n + 1;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER request_links_count_insert_delete AFTER INSERT OR DELETE ON habilitation_requests
    FOR EACH ROW EXECUTE FUNCTION request_links_count_trigger();
CREATE TRIGGER request_links_count_update AFTER UPDATE OF form_uid, editeur_id ON habilitation_requests
    FOR EACH ROW WHEN (OLD.form_uid IS DISTINCT FROM NEW.form_uid
        OR OLD.editeur_id IS DISTINCT FROM NEW.editeur_id)
    EXECUTE FUNCTION request_links_count_trigger();

-- Collectivités per département (row_counts list 'departements'): the département filter of
-- the lists reads these rows instead of seeking every département in the index per view.
INSERT INTO row_counts (list, bucket, n)
    SELECT 'departements', departement, count(*) FROM collectivites
    WHERE departement IS NOT NULL GROUP BY departement;
CREATE FUNCTION departements_count_trigger() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.departement IS NOT NULL THEN
        PERFORM row_counts_add('departements', OLD.departement, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.departement IS NOT NULL THEN
        PERFORM row_counts_add('departements', NEW.departement, 1);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER departements_count_insert_delete AFTER INSERT OR DELETE ON collectivites
    FOR EACH ROW EXECUTE FUNCTION departements_count_trigger();
CREATE TRIGGER departements_count_update AFTER UPDATE OF departement ON collectivites
    FOR EACH ROW WHEN (OLD.departement IS DISTINCT FROM NEW.departement)
    EXECUTE FUNCTION departements_count_trigger();
