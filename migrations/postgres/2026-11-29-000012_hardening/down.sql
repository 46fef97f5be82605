DROP INDEX login_tokens_created_idx;
DROP INDEX login_attempts_sent_idx;
ALTER TABLE login_attempts DROP COLUMN sent;
DROP TABLE sessions;
