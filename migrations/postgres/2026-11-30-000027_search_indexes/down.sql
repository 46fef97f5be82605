DROP INDEX tokens_collectivite_idx;
CREATE INDEX tokens_collectivite_idx ON tokens (collectivite_id);
DROP INDEX hubee_subscriptions_datapass_idx;
