DROP INDEX habilitation_requests_form_uid_idx;
DROP TABLE api_keys;
