-- The version of the list filters' choices (issue 14): the éditeurs (id, name) and the
-- départements in use, which the queue and the token list offer on every view. Triggers bump
-- the version in the transaction of every change that can alter them; a view reads this one
-- row and reuses the choices it read at the same version (they were a seventh of the queue's
-- time at national scale).
INSERT INTO row_counts (list, bucket, n) VALUES ('versions', 'filter_choices', 0)
    ON CONFLICT (list, bucket) DO NOTHING;

CREATE FUNCTION filter_choices_bump() RETURNS trigger AS $$
BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'filter_choices';
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

-- Once per statement: a bulk insert of collectivités bumps the version once.
CREATE TRIGGER filter_choices_editeurs AFTER INSERT OR DELETE OR UPDATE OF id, name ON editeurs
    FOR EACH STATEMENT EXECUTE FUNCTION filter_choices_bump();
CREATE TRIGGER filter_choices_collectivites AFTER INSERT OR DELETE OR UPDATE OF departement
    ON collectivites FOR EACH STATEMENT EXECUTE FUNCTION filter_choices_bump();
