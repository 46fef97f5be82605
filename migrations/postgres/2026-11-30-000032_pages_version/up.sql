-- Whole list pages kept until the data changes (issue 14): the data version of
-- `…000031_lists_version` now also moves with the last tables those pages read — a token's
-- habilitation (request it comes from), a subscription's provisioning state, a collectivité's
-- form activation — so that a page computed at one version is the page at that version.
-- Job bookkeeping (attempts, locks, errors, next attempt) moves nothing.
-- Deferred to the commit and once per transaction, as in `…000031` (`lists_version_bump`).
CREATE CONSTRAINT TRIGGER lists_version_habilitations AFTER INSERT OR DELETE OR UPDATE OF id, request_id, collectivite_id
    ON habilitations DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION lists_version_bump();
CREATE TRIGGER lists_version_habilitations_truncate AFTER TRUNCATE ON habilitations
    FOR EACH STATEMENT EXECUTE FUNCTION lists_version_bump();
CREATE CONSTRAINT TRIGGER lists_version_hubee_provisioning AFTER INSERT OR DELETE OR UPDATE OF subscription_id, state
    ON hubee_provisioning DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION lists_version_bump();
CREATE TRIGGER lists_version_hubee_provisioning_truncate AFTER TRUNCATE ON hubee_provisioning
    FOR EACH STATEMENT EXECUTE FUNCTION lists_version_bump();
CREATE CONSTRAINT TRIGGER lists_version_form_activations AFTER INSERT OR DELETE OR UPDATE OF collectivite_id, state, live
    ON form_activations DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION lists_version_bump();
CREATE TRIGGER lists_version_form_activations_truncate AFTER TRUNCATE ON form_activations
    FOR EACH STATEMENT EXECUTE FUNCTION lists_version_bump();
