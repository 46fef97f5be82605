-- The version of the data kept results are computed from (issue 14): a search's matches in a
-- list's order, the staff search's hits, an éditeur's client collectivités. Triggers bump it
-- in the transaction of every change to the tables those results read; a view reads this one
-- row and reuses a result computed at the same version (see `models::result_cache`), so a
-- repeated search or a page of the same search no longer reads every match again, and any
-- change is seen at once.
INSERT INTO row_counts (list, bucket, n) VALUES ('versions', 'lists', 0)
    ON CONFLICT (list, bucket) DO NOTHING;

CREATE TRIGGER lists_version_collectivites_insert AFTER INSERT ON collectivites BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_collectivites_update AFTER UPDATE ON collectivites BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_collectivites_delete AFTER DELETE ON collectivites BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_habilitation_requests_insert AFTER INSERT ON habilitation_requests BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_habilitation_requests_update AFTER UPDATE ON habilitation_requests BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_habilitation_requests_delete AFTER DELETE ON habilitation_requests BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_tokens_insert AFTER INSERT ON tokens BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
-- Tokens: only the columns results read (a reminder sweep's `next_reminder_on` moves nothing).
CREATE TRIGGER lists_version_tokens_update
AFTER UPDATE OF id, habilitation_id, collectivite_id, expires_on, revoked_at ON tokens BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_tokens_delete AFTER DELETE ON tokens BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_hubee_subscriptions_insert AFTER INSERT ON hubee_subscriptions BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_hubee_subscriptions_update AFTER UPDATE ON hubee_subscriptions BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_hubee_subscriptions_delete AFTER DELETE ON hubee_subscriptions BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_search_docs_insert AFTER INSERT ON search_docs BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_search_docs_update AFTER UPDATE ON search_docs BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_search_docs_delete AFTER DELETE ON search_docs BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_editeurs_insert AFTER INSERT ON editeurs BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_editeurs_update AFTER UPDATE ON editeurs BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_editeurs_delete AFTER DELETE ON editeurs BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_editeur_forms_insert AFTER INSERT ON editeur_forms BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_editeur_forms_update AFTER UPDATE ON editeur_forms BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_editeur_forms_delete AFTER DELETE ON editeur_forms BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_request_contacts_insert AFTER INSERT ON request_contacts BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_request_contacts_update AFTER UPDATE ON request_contacts BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_request_contacts_delete AFTER DELETE ON request_contacts BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
