-- The client IP a sign-in link was used from: an address that reached its daily cap of links
-- (possibly asked by someone else) can still get one from where it already signed in.
ALTER TABLE login_tokens ADD COLUMN used_ip TEXT;
CREATE INDEX login_tokens_email_used_ip_idx ON login_tokens (email, used_ip);
