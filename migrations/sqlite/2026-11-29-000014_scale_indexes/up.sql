-- Indexes for the staff lists at national scale (issue 14): each matches a list's filter and
-- sort so that a page reads ~30 index entries instead of sorting or counting whole tables.

-- /jetons: soonest expiry first (expires_on, id); counts by window and status read
-- (expires_on, revoked_at) only; revoked tokens are few (a partial index, which the planner
-- cannot mistake for a way to find the many unrevoked ones).
CREATE INDEX tokens_expiry_list_idx ON tokens (expires_on, id);
CREATE INDEX tokens_expiry_revoked_idx ON tokens (expires_on, revoked_at);
CREATE INDEX tokens_revoked_idx ON tokens (expires_on) WHERE revoked_at IS NOT NULL;
DROP INDEX tokens_expires_on_idx;

-- /instruction: the queue (pending requests only, reopenings first, oldest submission first).
-- `+state` (as in the queue's query) so that SQLite does not answer the queue with the plain
-- state index and a sort of every pending request.
CREATE INDEX habilitation_requests_queue_idx
    ON habilitation_requests (reopening DESC, last_submitted_at, created_at)
    WHERE +state IN ('submitted', 'changes_requested');

-- An éditeur's clients: requests recorded for it or made through one of its forms (an OR of
-- the two, each answered by its index).
CREATE INDEX habilitation_requests_form_uid_idx ON habilitation_requests (form_uid);

-- /collectivites and /abonnements: by name, then SIRET.
CREATE INDEX collectivites_name_siret_idx ON collectivites (name, siret);
DROP INDEX collectivites_name_idx;

-- Planner statistics for the new indexes (without them SQLite may prefer a worse index).
ANALYZE;
