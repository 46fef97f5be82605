DROP TRIGGER departements_count_update ON collectivites;
DROP TRIGGER departements_count_insert_delete ON collectivites;
DROP FUNCTION departements_count_trigger();
DELETE FROM row_counts WHERE list = 'departements';
DROP TRIGGER request_links_count_update ON habilitation_requests;
DROP TRIGGER request_links_count_insert_delete ON habilitation_requests;
DROP FUNCTION request_links_count_trigger();
DROP TABLE request_link_counts;
