-- Tokens per expiry month (issue 14), kept exact by triggers beside the per-day counters:
-- the staff home's token totals, the token list's counts and its 18-month chart read whole
-- months here (a few dozen rows) and only the days of a partial month in
-- `token_expiry_counts` (summing every day's row was a third of the staff home at national
-- scale). `month` is the first day of the month.
CREATE TABLE token_expiry_month_counts (
    month DATE NOT NULL,
    revoked BOOLEAN NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (revoked, month)
);

INSERT INTO token_expiry_month_counts (month, revoked, n)
    SELECT date_trunc('month', expires_on)::date, revoked_at IS NOT NULL, count(*) FROM tokens
    GROUP BY date_trunc('month', expires_on)::date, revoked_at IS NOT NULL;

-- Adds `delta` to the month of `p_day`.
CREATE FUNCTION token_expiry_month_counts_add(p_day DATE, p_revoked BOOLEAN, delta BIGINT)
RETURNS void AS $$
BEGIN
    INSERT INTO token_expiry_month_counts (month, revoked, n)
        VALUES (date_trunc('month', p_day)::date, p_revoked, delta)
        ON CONFLICT (revoked, month) DO UPDATE SET n = token_expiry_month_counts.n + delta;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION tokens_month_count_trigger() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM token_expiry_month_counts_add(OLD.expires_on, OLD.revoked_at IS NOT NULL, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM token_expiry_month_counts_add(NEW.expires_on, NEW.revoked_at IS NOT NULL, 1);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER tokens_month_count_insert_delete AFTER INSERT OR DELETE ON tokens
    FOR EACH ROW EXECUTE FUNCTION tokens_month_count_trigger();
CREATE TRIGGER tokens_month_count_update AFTER UPDATE OF expires_on, revoked_at ON tokens
    FOR EACH ROW WHEN (OLD.expires_on IS DISTINCT FROM NEW.expires_on
        OR (OLD.revoked_at IS NULL) <> (NEW.revoked_at IS NULL))
    EXECUTE FUNCTION tokens_month_count_trigger();

-- The days of a partial month, revoked or not: a range of this index.
CREATE INDEX token_expiry_counts_revoked_idx ON token_expiry_counts (revoked, expires_on, n);
