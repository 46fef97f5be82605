-- The version of the data kept results are computed from (issue 14): a search's matches in a
-- list's order, the staff search's hits, an éditeur's client collectivités. Triggers bump it
-- in the transaction of every change to the tables those results read; a view reads this one
-- row and reuses a result computed at the same version (see `models::result_cache`), so a
-- repeated search or a page of the same search no longer reads every match again, and any
-- change is seen at once.
INSERT INTO row_counts (list, bucket, n) VALUES ('versions', 'lists', 0)
    ON CONFLICT (list, bucket) DO NOTHING;

-- Deferred to the commit and once per transaction: the version row is locked last, after
-- every row the transaction wrote, so that two writers never hold each a row the other needs
-- while waiting for it (a deadlock with a bump at each statement).
CREATE FUNCTION lists_version_bump() RETURNS trigger AS $$
BEGIN
    IF current_setting('qf.lists_version_bumped', true) = 'on' THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('qf.lists_version_bumped', 'on', true);
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER lists_version_collectivites AFTER INSERT OR UPDATE OR DELETE
    ON collectivites DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION lists_version_bump();
CREATE TRIGGER lists_version_collectivites_truncate AFTER TRUNCATE ON collectivites
    FOR EACH STATEMENT EXECUTE FUNCTION lists_version_bump();
CREATE CONSTRAINT TRIGGER lists_version_habilitation_requests AFTER INSERT OR UPDATE OR DELETE
    ON habilitation_requests DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION lists_version_bump();
CREATE TRIGGER lists_version_habilitation_requests_truncate AFTER TRUNCATE ON habilitation_requests
    FOR EACH STATEMENT EXECUTE FUNCTION lists_version_bump();
-- Tokens: only the columns results read (a reminder sweep's `next_reminder_on` moves nothing).
CREATE CONSTRAINT TRIGGER lists_version_tokens AFTER INSERT OR DELETE OR UPDATE OF id, habilitation_id, collectivite_id, expires_on, revoked_at
    ON tokens DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION lists_version_bump();
CREATE TRIGGER lists_version_tokens_truncate AFTER TRUNCATE ON tokens
    FOR EACH STATEMENT EXECUTE FUNCTION lists_version_bump();
CREATE CONSTRAINT TRIGGER lists_version_hubee_subscriptions AFTER INSERT OR UPDATE OR DELETE
    ON hubee_subscriptions DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION lists_version_bump();
CREATE TRIGGER lists_version_hubee_subscriptions_truncate AFTER TRUNCATE ON hubee_subscriptions
    FOR EACH STATEMENT EXECUTE FUNCTION lists_version_bump();
CREATE CONSTRAINT TRIGGER lists_version_search_docs AFTER INSERT OR UPDATE OR DELETE
    ON search_docs DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION lists_version_bump();
CREATE TRIGGER lists_version_search_docs_truncate AFTER TRUNCATE ON search_docs
    FOR EACH STATEMENT EXECUTE FUNCTION lists_version_bump();
CREATE CONSTRAINT TRIGGER lists_version_editeurs AFTER INSERT OR UPDATE OR DELETE
    ON editeurs DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION lists_version_bump();
CREATE TRIGGER lists_version_editeurs_truncate AFTER TRUNCATE ON editeurs
    FOR EACH STATEMENT EXECUTE FUNCTION lists_version_bump();
CREATE CONSTRAINT TRIGGER lists_version_editeur_forms AFTER INSERT OR UPDATE OR DELETE
    ON editeur_forms DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION lists_version_bump();
CREATE TRIGGER lists_version_editeur_forms_truncate AFTER TRUNCATE ON editeur_forms
    FOR EACH STATEMENT EXECUTE FUNCTION lists_version_bump();
CREATE CONSTRAINT TRIGGER lists_version_request_contacts AFTER INSERT OR UPDATE OR DELETE
    ON request_contacts DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION lists_version_bump();
CREATE TRIGGER lists_version_request_contacts_truncate AFTER TRUNCATE ON request_contacts
    FOR EACH STATEMENT EXECUTE FUNCTION lists_version_bump();
