DROP TABLE app_secrets;
DROP TABLE outbox;
DROP TABLE login_attempts;
DROP TABLE login_tokens;
DROP INDEX editeurs_contact_idx;
DROP TABLE editeur_members;
DROP TABLE staff_members;
