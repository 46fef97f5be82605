-- HubEE provisioning (create/update of each subscription through the HubEE API, retried
-- with backoff) and the differences the sync could not reconcile.

CREATE TABLE hubee_provisioning (
    subscription_id TEXT PRIMARY KEY NOT NULL REFERENCES hubee_subscriptions (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    operation TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    last_error TEXT,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX hubee_provisioning_due_idx ON hubee_provisioning (state, next_attempt_at);

CREATE TABLE hubee_sync_issues (
    id TEXT PRIMARY KEY NOT NULL,
    subscription_id TEXT,
    hubee_id TEXT,
    siret TEXT,
    kind TEXT NOT NULL,
    details TEXT NOT NULL,
    detected_at TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP,
    resolved_by TEXT
);
CREATE INDEX hubee_sync_issues_open_idx ON hubee_sync_issues (resolved_at);
