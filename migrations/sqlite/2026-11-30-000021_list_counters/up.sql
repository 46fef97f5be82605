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

CREATE TRIGGER requests_count_insert AFTER INSERT ON habilitation_requests BEGIN
    INSERT INTO row_counts (list, bucket, n) VALUES ('requests', NEW.state, 1)
        ON CONFLICT (list, bucket) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER requests_count_update AFTER UPDATE OF state ON habilitation_requests
WHEN OLD.state IS NOT NEW.state BEGIN
    UPDATE row_counts SET n = n - 1 WHERE list = 'requests' AND bucket = OLD.state;
    INSERT INTO row_counts (list, bucket, n) VALUES ('requests', NEW.state, 1)
        ON CONFLICT (list, bucket) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER requests_count_delete AFTER DELETE ON habilitation_requests BEGIN
    UPDATE row_counts SET n = n - 1 WHERE list = 'requests' AND bucket = OLD.state;
END;

CREATE TRIGGER hubee_count_insert AFTER INSERT ON hubee_subscriptions BEGIN
    INSERT INTO row_counts (list, bucket, n) VALUES ('hubee', NEW.status, 1)
        ON CONFLICT (list, bucket) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER hubee_count_update AFTER UPDATE OF status ON hubee_subscriptions
WHEN OLD.status IS NOT NEW.status BEGIN
    UPDATE row_counts SET n = n - 1 WHERE list = 'hubee' AND bucket = OLD.status;
    INSERT INTO row_counts (list, bucket, n) VALUES ('hubee', NEW.status, 1)
        ON CONFLICT (list, bucket) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER hubee_count_delete AFTER DELETE ON hubee_subscriptions BEGIN
    UPDATE row_counts SET n = n - 1 WHERE list = 'hubee' AND bucket = OLD.status;
END;

CREATE TRIGGER collectivites_count_insert AFTER INSERT ON collectivites BEGIN
    INSERT INTO row_counts (list, bucket, n) VALUES ('collectivites', '', 1)
        ON CONFLICT (list, bucket) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER collectivites_count_delete AFTER DELETE ON collectivites BEGIN
    UPDATE row_counts SET n = n - 1 WHERE list = 'collectivites' AND bucket = '';
END;

CREATE TRIGGER tokens_count_insert AFTER INSERT ON tokens BEGIN
    INSERT INTO token_expiry_counts (expires_on, revoked, n)
        VALUES (NEW.expires_on, NEW.revoked_at IS NOT NULL, 1)
        ON CONFLICT (expires_on, revoked) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER tokens_count_update AFTER UPDATE OF expires_on, revoked_at ON tokens
WHEN OLD.expires_on IS NOT NEW.expires_on
    OR (OLD.revoked_at IS NULL) IS NOT (NEW.revoked_at IS NULL) BEGIN
    UPDATE token_expiry_counts SET n = n - 1
        WHERE expires_on = OLD.expires_on AND revoked = (OLD.revoked_at IS NOT NULL);
    INSERT INTO token_expiry_counts (expires_on, revoked, n)
        VALUES (NEW.expires_on, NEW.revoked_at IS NOT NULL, 1)
        ON CONFLICT (expires_on, revoked) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER tokens_count_delete AFTER DELETE ON tokens BEGIN
    UPDATE token_expiry_counts SET n = n - 1
        WHERE expires_on = OLD.expires_on AND revoked = (OLD.revoked_at IS NOT NULL);
END;

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
