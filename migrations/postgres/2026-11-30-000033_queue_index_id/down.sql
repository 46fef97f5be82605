DROP INDEX habilitation_requests_queue_idx;
CREATE INDEX habilitation_requests_queue_idx
    ON habilitation_requests (reopening DESC, last_submitted_at, created_at)
    WHERE state IN ('submitted', 'changes_requested');
