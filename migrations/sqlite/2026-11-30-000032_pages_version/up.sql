-- Whole list pages kept until the data changes (issue 14): the data version of
-- `…000031_lists_version` now also moves with the last tables those pages read — a token's
-- habilitation (request it comes from), a subscription's provisioning state, a collectivité's
-- form activation — so that a page computed at one version is the page at that version.
-- Job bookkeeping (attempts, locks, errors, next attempt) moves nothing.
CREATE TRIGGER lists_version_habilitations_insert AFTER INSERT ON habilitations BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_habilitations_update AFTER UPDATE OF id, request_id, collectivite_id ON habilitations BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_habilitations_delete AFTER DELETE ON habilitations BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_hubee_provisioning_insert AFTER INSERT ON hubee_provisioning BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_hubee_provisioning_update AFTER UPDATE OF subscription_id, state ON hubee_provisioning BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_hubee_provisioning_delete AFTER DELETE ON hubee_provisioning BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_form_activations_insert AFTER INSERT ON form_activations BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_form_activations_update AFTER UPDATE OF collectivite_id, state, live ON form_activations BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
CREATE TRIGGER lists_version_form_activations_delete AFTER DELETE ON form_activations BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'lists';
END;
