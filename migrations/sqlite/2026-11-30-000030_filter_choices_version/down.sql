DROP TRIGGER filter_choices_collectivite_delete;
DROP TRIGGER filter_choices_collectivite_update;
DROP TRIGGER filter_choices_collectivite_insert;
DROP TRIGGER filter_choices_editeur_delete;
DROP TRIGGER filter_choices_editeur_update;
DROP TRIGGER filter_choices_editeur_insert;
DELETE FROM row_counts WHERE list = 'versions' AND bucket = 'filter_choices';
