DROP TABLE datapass_sync_runs;
DROP TABLE datapass_differences;
DROP TABLE datapass_mirror;
