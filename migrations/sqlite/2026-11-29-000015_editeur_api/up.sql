-- Éditeur API keys: named, stored as the SHA-256 of the key (shown once), last use recorded,
-- revocable. Plus the index the éditeur's client list walks (requests by form).
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    editeur_id TEXT NOT NULL REFERENCES editeurs (id),
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    key_prefix TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP,
    revoked_by TEXT
);
CREATE INDEX api_keys_editeur_idx ON api_keys (editeur_id);
