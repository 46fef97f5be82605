DROP TABLE token_reminders;
DROP INDEX tokens_next_reminder_idx;
ALTER TABLE tokens DROP COLUMN next_reminder_on;
