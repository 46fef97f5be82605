-- Server-side sessions (revocable, idle and absolute lifetimes) and sign-in limits counting
-- the links actually sent.

CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT,
    state TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_email_idx ON sessions (email);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

ALTER TABLE login_attempts ADD COLUMN sent BOOLEAN NOT NULL DEFAULT 0;
CREATE INDEX login_attempts_sent_idx ON login_attempts (email, sent, created_at);
CREATE INDEX login_tokens_created_idx ON login_tokens (created_at);
