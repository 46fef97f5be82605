DROP TABLE hubee_sync_issues;
DROP TABLE hubee_provisioning;
