-- An éditeur's clients answered from indexes alone. Each index keeps its leading columns
-- (same uses, same write cost: one entry per request) and carries the columns the client
-- queries read, so they no longer fetch the request rows, scattered over the whole table:
-- - the probe "has this collectivité a client request of the éditeur" (`EXISTS` per
--   collectivité walked in SIRET order) reads (collectivite_id, editeur_id, form_uid);
-- - the set of an éditeur's client collectivités (its pages, its distinct-collectivité count)
--   reads collectivite_id next to editeur_id, and next to (form_uid, editeur_id).
DROP INDEX habilitation_requests_collectivite_idx;
CREATE INDEX habilitation_requests_collectivite_idx
    ON habilitation_requests (collectivite_id, editeur_id, form_uid);
DROP INDEX habilitation_requests_editeur_created_idx;
CREATE INDEX habilitation_requests_editeur_created_idx
    ON habilitation_requests (editeur_id, created_at, id, collectivite_id);
DROP INDEX habilitation_requests_form_created_idx;
CREATE INDEX habilitation_requests_form_created_idx
    ON habilitation_requests (form_uid, created_at, id, editeur_id, collectivite_id);
