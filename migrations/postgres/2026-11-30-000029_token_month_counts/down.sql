DROP INDEX token_expiry_counts_revoked_idx;
DROP TRIGGER tokens_month_count_update ON tokens;
DROP TRIGGER tokens_month_count_insert_delete ON tokens;
DROP FUNCTION tokens_month_count_trigger();
DROP FUNCTION token_expiry_month_counts_add(DATE, BOOLEAN, BIGINT);
DROP TABLE token_expiry_month_counts;
