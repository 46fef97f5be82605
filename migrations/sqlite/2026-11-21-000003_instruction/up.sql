-- Instruction: webhook deliveries and the events they applied, uploaded délibérations,
-- reusable reason templates.

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    received_at TIMESTAMP NOT NULL,
    event TEXT,
    model_type TEXT,
    model_id BIGINT,
    fired_at BIGINT,
    request_id TEXT,
    outcome TEXT NOT NULL,
    http_status INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    error_code TEXT,
    error_message TEXT,
    payload TEXT NOT NULL,
    reapplied_at TIMESTAMP,
    reapplied_by TEXT
);
CREATE INDEX webhook_deliveries_received_idx ON webhook_deliveries (received_at);
CREATE INDEX webhook_deliveries_outcome_idx ON webhook_deliveries (outcome);
CREATE INDEX webhook_deliveries_model_idx ON webhook_deliveries (model_id);

CREATE TABLE webhook_applied (
    dedup_key TEXT PRIMARY KEY NOT NULL,
    request_id TEXT,
    http_status INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    applied_at TIMESTAMP NOT NULL
);

CREATE TABLE deliberation_files (
    request_id TEXT PRIMARY KEY NOT NULL REFERENCES habilitation_requests (id) ON DELETE CASCADE,
    file_name TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    content BLOB NOT NULL,
    uploaded_at TIMESTAMP NOT NULL,
    uploaded_by TEXT NOT NULL
);

CREATE TABLE reason_templates (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
