CREATE INDEX collectivites_name_idx ON collectivites (name);
DROP INDEX collectivites_name_siret_idx;
DROP INDEX habilitation_requests_form_uid_idx;
DROP INDEX habilitation_requests_queue_idx;
CREATE INDEX tokens_expires_on_idx ON tokens (expires_on);
DROP INDEX tokens_revoked_idx;
DROP INDEX tokens_expiry_revoked_idx;
DROP INDEX tokens_expiry_list_idx;
