-- The queue's search reads pending requests only: by the collectivités whose documents
-- contain the text, then the matches (with the contacts' requests) in the queue's order. Both
-- reads go through these partial indexes of the pending requests (14 600 entries at
-- national scale), which hold every column the queue filters and sorts on: no read of the
-- rows of every request of each matching collectivité, pending or not (issue 14).
CREATE INDEX habilitation_requests_pending_collectivite_idx
    ON habilitation_requests (collectivite_id, reopening DESC, last_submitted_at, created_at, id, state, editeur_id)
    WHERE +state IN ('submitted', 'changes_requested');
CREATE INDEX habilitation_requests_pending_id_idx
    ON habilitation_requests (id, reopening DESC, last_submitted_at, created_at, state, editeur_id)
    WHERE +state IN ('submitted', 'changes_requested');
