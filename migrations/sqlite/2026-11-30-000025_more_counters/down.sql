DROP INDEX token_expiry_counts_cover_idx;
DROP TRIGGER departements_count_delete;
DROP TRIGGER departements_count_update;
DROP TRIGGER departements_count_insert;
DELETE FROM row_counts WHERE list = 'departements';
DROP TRIGGER request_links_count_delete;
DROP TRIGGER request_links_count_update;
DROP TRIGGER request_links_count_insert;
DROP TABLE request_link_counts;
