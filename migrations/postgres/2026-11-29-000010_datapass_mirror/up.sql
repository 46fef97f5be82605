-- What the back office knows of each request's life on DataPass (the mirror), the
-- differences found between DataPass and the back office, and the reconciliation runs.
CREATE TABLE datapass_mirror (
    request_id TEXT PRIMARY KEY NOT NULL REFERENCES habilitation_requests (id) ON DELETE CASCADE,
    datapass_state TEXT NOT NULL,
    last_event TEXT,
    last_event_at TIMESTAMP,
    last_synced_at TIMESTAMP,
    modification_expected_at TIMESTAMP,
    modification_expected_by TEXT,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE datapass_differences (
    id TEXT PRIMARY KEY NOT NULL,
    request_id TEXT REFERENCES habilitation_requests (id) ON DELETE CASCADE,
    datapass_id BIGINT NOT NULL,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    local_value TEXT,
    datapass_value TEXT,
    resolution TEXT NOT NULL,
    detected_at TIMESTAMP NOT NULL
);
CREATE INDEX datapass_differences_detected_idx ON datapass_differences (detected_at);
CREATE INDEX datapass_differences_request_idx ON datapass_differences (request_id);
CREATE INDEX datapass_differences_datapass_idx ON datapass_differences (datapass_id);

CREATE TABLE datapass_sync_runs (
    id TEXT PRIMARY KEY NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    read_count INTEGER NOT NULL,
    created_count INTEGER NOT NULL,
    updated_count INTEGER NOT NULL,
    unchanged_count INTEGER NOT NULL,
    difference_count INTEGER NOT NULL,
    error TEXT
);
CREATE INDEX datapass_sync_runs_started_idx ON datapass_sync_runs (started_at);
