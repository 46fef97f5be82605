DROP TABLE pending_approval_mails;
DROP TABLE form_activations;
ALTER TABLE hubee_provisioning DROP COLUMN organization;
DROP TABLE request_provisioning_facts;
