-- Indexes for the list searches at national scale (a search is `column IN (the matches) OR
-- column = the identifier typed`).
--
-- HubEE subscriptions: without an index on datapass_id, the OR made both databases read every
-- subscription (17 ms at national scale for each count, then again for the page); with it,
-- each side is an index lookup (SQLite's MULTI-INDEX OR, PostgreSQL's BitmapOr).
CREATE INDEX hubee_subscriptions_datapass_idx ON hubee_subscriptions (datapass_id);

-- Tokens: a search picks its page on the tokens alone, soonest expiry first; the collectivité
-- index now carries the expiry, the id and the revocation, so the matches (1 836 tokens for
-- « beaumont ») are sorted without reading their rows (7.2 ms → 4.7 ms for that page's ids).
DROP INDEX tokens_collectivite_idx;
CREATE INDEX tokens_collectivite_idx ON tokens (collectivite_id, expires_on, id, revoked_at);
