DROP TABLE mail_jobs;
