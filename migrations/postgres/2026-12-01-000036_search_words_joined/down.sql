DROP INDEX search_docs_collectivite_trgm;
DROP INDEX search_docs_contact_trgm;
DROP INDEX search_docs_other_trgm;
CREATE INDEX search_docs_collectivite_trgm ON search_docs USING gin (body gin_trgm_ops)
    WHERE kind = 'collectivite';
CREATE INDEX search_docs_contact_trgm ON search_docs USING gin (body gin_trgm_ops)
    WHERE kind = 'contact';
CREATE INDEX search_docs_other_trgm ON search_docs USING gin (body gin_trgm_ops)
    WHERE kind NOT IN ('collectivite', 'contact');
