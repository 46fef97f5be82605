-- The version of the list filters' choices (issue 14): the éditeurs (id, name) and the
-- départements in use, which the queue and the token list offer on every view. Triggers bump
-- the version in the transaction of every change that can alter them; a view reads this one
-- row and reuses the choices it read at the same version (they were a seventh of the queue's
-- time at national scale).
INSERT INTO row_counts (list, bucket, n) VALUES ('versions', 'filter_choices', 0)
    ON CONFLICT (list, bucket) DO NOTHING;

CREATE TRIGGER filter_choices_editeur_insert AFTER INSERT ON editeurs BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'filter_choices';
END;
CREATE TRIGGER filter_choices_editeur_update AFTER UPDATE OF id, name ON editeurs BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'filter_choices';
END;
CREATE TRIGGER filter_choices_editeur_delete AFTER DELETE ON editeurs BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'filter_choices';
END;
CREATE TRIGGER filter_choices_collectivite_insert AFTER INSERT ON collectivites BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'filter_choices';
END;
CREATE TRIGGER filter_choices_collectivite_update AFTER UPDATE OF departement ON collectivites
WHEN OLD.departement IS NOT NEW.departement BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'filter_choices';
END;
CREATE TRIGGER filter_choices_collectivite_delete AFTER DELETE ON collectivites BEGIN
    UPDATE row_counts SET n = n + 1 WHERE list = 'versions' AND bucket = 'filter_choices';
END;
