DROP INDEX login_tokens_email_used_ip_idx;
ALTER TABLE login_tokens DROP COLUMN used_ip;
