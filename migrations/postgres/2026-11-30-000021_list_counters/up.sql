-- Counters of the staff pages (issue 14), kept exact by triggers in the transaction of every
-- change, so that a page view reads a few counter rows instead of counting whole tables.

-- Rows per (list, bucket): requests per state, HubEE subscriptions per status, collectivités
-- (bucket '').
CREATE TABLE row_counts (
    list TEXT NOT NULL,
    bucket TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (list, bucket)
);

-- Tokens per expiry day, revoked or not: every status count and the expiry chart sum a few
-- hundred of these rows whatever `today` is.
CREATE TABLE token_expiry_counts (
    expires_on DATE NOT NULL,
    revoked BOOLEAN NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (expires_on, revoked)
);

INSERT INTO row_counts (list, bucket, n)
    SELECT 'requests', state, count(*) FROM habilitation_requests GROUP BY state;
INSERT INTO row_counts (list, bucket, n)
    SELECT 'hubee', status, count(*) FROM hubee_subscriptions GROUP BY status;
INSERT INTO row_counts (list, bucket, n)
    SELECT 'collectivites', '', count(*) FROM collectivites;
INSERT INTO token_expiry_counts (expires_on, revoked, n)
    SELECT expires_on, revoked_at IS NOT NULL, count(*) FROM tokens
    GROUP BY expires_on, revoked_at IS NOT NULL;

-- Adds `delta` to a row_counts bucket.
CREATE FUNCTION row_counts_add(p_list TEXT, p_bucket TEXT, delta BIGINT) RETURNS void AS $$
BEGIN
    INSERT INTO row_counts (list, bucket, n) VALUES (p_list, p_bucket, delta)
        ON CONFLICT (list, bucket) DO UPDATE SET n = row_counts.n + delta;
END;
$$ LANGUAGE plpgsql;

-- Adds `delta` to a token_expiry_counts bucket.
CREATE FUNCTION token_expiry_counts_add(p_day DATE, p_revoked BOOLEAN, delta BIGINT)
RETURNS void AS $$
BEGIN
    INSERT INTO token_expiry_counts (expires_on, revoked, n) VALUES (p_day, p_revoked, delta)
        ON CONFLICT (expires_on, revoked) DO UPDATE SET n = token_expiry_counts.n + delta;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION requests_count_trigger() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM row_counts_add('requests', OLD.state, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM row_counts_add('requests', NEW.state, 1);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER requests_count_insert_delete AFTER INSERT OR DELETE ON habilitation_requests
    FOR EACH ROW EXECUTE FUNCTION requests_count_trigger();
CREATE TRIGGER requests_count_update AFTER UPDATE OF state ON habilitation_requests
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION requests_count_trigger();

CREATE FUNCTION hubee_count_trigger() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM row_counts_add('hubee', OLD.status, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM row_counts_add('hubee', NEW.status, 1);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER hubee_count_insert_delete AFTER INSERT OR DELETE ON hubee_subscriptions
    FOR EACH ROW EXECUTE FUNCTION hubee_count_trigger();
CREATE TRIGGER hubee_count_update AFTER UPDATE OF status ON hubee_subscriptions
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION hubee_count_trigger();

CREATE FUNCTION collectivites_count_trigger() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM row_counts_add('collectivites', '', 1);
    ELSE
        PERFORM row_counts_add('collectivites', '', -1);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER collectivites_count AFTER INSERT OR DELETE ON collectivites
    FOR EACH ROW EXECUTE FUNCTION collectivites_count_trigger();

CREATE FUNCTION tokens_count_trigger() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM token_expiry_counts_add(OLD.expires_on, OLD.revoked_at IS NOT NULL, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM token_expiry_counts_add(NEW.expires_on, NEW.revoked_at IS NOT NULL, 1);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER tokens_count_insert_delete AFTER INSERT OR DELETE ON tokens
    FOR EACH ROW EXECUTE FUNCTION tokens_count_trigger();
CREATE TRIGGER tokens_count_update AFTER UPDATE OF expires_on, revoked_at ON tokens
    FOR EACH ROW WHEN (OLD.expires_on IS DISTINCT FROM NEW.expires_on
        OR (OLD.revoked_at IS NULL) <> (NEW.revoked_at IS NULL))
    EXECUTE FUNCTION tokens_count_trigger();

-- An éditeur's client requests, newest first, a page at a time: one ordered index per way a
-- request belongs to an éditeur (recorded for it, or made through one of its forms).
CREATE INDEX habilitation_requests_editeur_created_idx
    ON habilitation_requests (editeur_id, created_at, id);
DROP INDEX habilitation_requests_editeur_idx;
CREATE INDEX habilitation_requests_form_created_idx
    ON habilitation_requests (form_uid, created_at, id);
DROP INDEX habilitation_requests_form_uid_idx;

-- Loading the identity on every page view looks an address up among the éditeurs' contacts
-- case-insensitively: an index on the lower-cased address, not a scan of the éditeurs.
CREATE INDEX editeurs_contact_lower_idx ON editeurs (lower(contact_technique_email));

ANALYZE habilitation_requests;
ANALYZE editeurs;
