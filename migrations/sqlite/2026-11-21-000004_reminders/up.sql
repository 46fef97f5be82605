-- Renewal reminders: each token knows the day its next reminder is due (indexed, so a sweep
-- reads only due tokens), and each reminder sent is claimed once per (token, expiry, stage).

ALTER TABLE tokens ADD COLUMN next_reminder_on DATE;
CREATE INDEX tokens_next_reminder_idx ON tokens (next_reminder_on);

CREATE TABLE token_reminders (
    id TEXT PRIMARY KEY NOT NULL,
    token_id TEXT NOT NULL REFERENCES tokens (id),
    expires_on DATE NOT NULL,
    stage INTEGER NOT NULL,
    days_left INTEGER NOT NULL,
    email_id TEXT,
    claimed_at TIMESTAMP NOT NULL,
    UNIQUE (token_id, expires_on, stage)
);
CREATE INDEX token_reminders_token_idx ON token_reminders (token_id);
