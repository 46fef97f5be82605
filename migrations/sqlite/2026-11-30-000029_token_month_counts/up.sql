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
    SELECT date(expires_on, 'start of month'), revoked_at IS NOT NULL, count(*) FROM tokens
    GROUP BY date(expires_on, 'start of month'), revoked_at IS NOT NULL;

CREATE TRIGGER tokens_month_count_insert AFTER INSERT ON tokens BEGIN
    INSERT INTO token_expiry_month_counts (month, revoked, n)
        VALUES (date(NEW.expires_on, 'start of month'), NEW.revoked_at IS NOT NULL, 1)
        ON CONFLICT (revoked, month) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER tokens_month_count_update AFTER UPDATE OF expires_on, revoked_at ON tokens
WHEN OLD.expires_on IS NOT NEW.expires_on
    OR (OLD.revoked_at IS NULL) IS NOT (NEW.revoked_at IS NULL) BEGIN
    UPDATE token_expiry_month_counts SET n = n - 1
        WHERE month = date(OLD.expires_on, 'start of month')
            AND revoked = (OLD.revoked_at IS NOT NULL);
    INSERT INTO token_expiry_month_counts (month, revoked, n)
        VALUES (date(NEW.expires_on, 'start of month'), NEW.revoked_at IS NOT NULL, 1)
        ON CONFLICT (revoked, month) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER tokens_month_count_delete AFTER DELETE ON tokens BEGIN
    UPDATE token_expiry_month_counts SET n = n - 1
        WHERE month = date(OLD.expires_on, 'start of month')
            AND revoked = (OLD.revoked_at IS NOT NULL);
END;

-- The days of a partial month, revoked or not: a range of this index.
CREATE INDEX token_expiry_counts_revoked_idx ON token_expiry_counts (revoked, expires_on, n);
