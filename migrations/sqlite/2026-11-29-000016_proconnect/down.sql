DROP TABLE proconnect_states;
