-- ProConnect flows: each `state` handed to the provider, stored as its SHA-256, used once.
CREATE TABLE proconnect_states (
    state_hash TEXT PRIMARY KEY NOT NULL,
    created_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX proconnect_states_created_idx ON proconnect_states (created_at);
