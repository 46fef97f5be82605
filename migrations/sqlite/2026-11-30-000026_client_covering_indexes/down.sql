DROP INDEX habilitation_requests_collectivite_idx;
CREATE INDEX habilitation_requests_collectivite_idx ON habilitation_requests (collectivite_id);
DROP INDEX habilitation_requests_editeur_created_idx;
CREATE INDEX habilitation_requests_editeur_created_idx
    ON habilitation_requests (editeur_id, created_at, id);
DROP INDEX habilitation_requests_form_created_idx;
CREATE INDEX habilitation_requests_form_created_idx
    ON habilitation_requests (form_uid, created_at, id);
