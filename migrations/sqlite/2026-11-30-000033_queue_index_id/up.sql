-- The queue's index ends with the request id, the queue's last sort key: a far page of
-- /instruction walks index entries only (the index holds the id), with no sort of every
-- pending request and no read of their rows (issue 14).
DROP INDEX habilitation_requests_queue_idx;
CREATE INDEX habilitation_requests_queue_idx
    ON habilitation_requests (reopening DESC, last_submitted_at, created_at, id)
    WHERE +state IN ('submitted', 'changes_requested');
