DROP TABLE reason_templates;
DROP TABLE deliberation_files;
DROP TABLE webhook_applied;
DROP TABLE webhook_deliveries;
