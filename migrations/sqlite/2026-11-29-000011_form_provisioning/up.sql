-- Making each collectivité's form live: what DataPass said about a request that provisioning
-- needs (modalities, éditeur), the HubEE organization step, the activation of the collectivité
-- in the formulaire QF (durable queue, retried with backoff) and whether its form is online,
-- and the approval e-mails waiting for HubEE to say whether the collectivité had an account.

CREATE TABLE request_provisioning_facts (
    request_id TEXT PRIMARY KEY NOT NULL REFERENCES habilitation_requests (id) ON DELETE CASCADE,
    modalities TEXT NOT NULL,
    service_provider_id TEXT,
    recorded_at TIMESTAMP NOT NULL
);

ALTER TABLE hubee_provisioning ADD COLUMN organization TEXT;

CREATE TABLE form_activations (
    collectivite_id TEXT PRIMARY KEY NOT NULL REFERENCES collectivites (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    editor TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    last_error TEXT,
    requested_at TIMESTAMP NOT NULL,
    activated_at TIMESTAMP,
    live BOOLEAN,
    live_checked_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX form_activations_due_idx ON form_activations (state, next_attempt_at);

CREATE TABLE pending_approval_mails (
    request_id TEXT PRIMARY KEY NOT NULL REFERENCES habilitation_requests (id) ON DELETE CASCADE,
    collectivite_id TEXT NOT NULL,
    token_id TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX pending_approval_mails_collectivite_idx ON pending_approval_mails (collectivite_id);
