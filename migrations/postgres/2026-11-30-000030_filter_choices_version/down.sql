DROP TRIGGER filter_choices_collectivites ON collectivites;
DROP TRIGGER filter_choices_editeurs ON editeurs;
DROP FUNCTION filter_choices_bump();
DELETE FROM row_counts WHERE list = 'versions' AND bucket = 'filter_choices';
