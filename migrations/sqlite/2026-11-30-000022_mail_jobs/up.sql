-- Decision e-mails decided in a write transaction (a DataPass approval) and rendered after it
-- commits by the mail worker: the transaction only records this row, so a failing template
-- can never roll back (nor fail) the event that caused the e-mail.
CREATE TABLE mail_jobs (
    id TEXT PRIMARY KEY NOT NULL,
    request_id TEXT NOT NULL REFERENCES habilitation_requests (id) ON DELETE CASCADE,
    token_id TEXT,
    event TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    failed_at TIMESTAMP
);
CREATE INDEX mail_jobs_pending_idx ON mail_jobs (failed_at, created_at);
