-- The trigram indexes read each document with its spaces written `0` (a character pg_trgm
-- keeps inside a word), and `search::targets_sql` asks them for the text with its spaces
-- written the same way, then checks the document itself. pg_trgm cuts a text into words at
-- every space: « les f » gave the trigrams of « les » alone, found in tens of thousands of
-- contacts, each read then dropped (70 ms at national scale). Written « les0f », its trigrams
-- span the space and pick out the few documents that hold it (issue 14).
DROP INDEX search_docs_collectivite_trgm;
DROP INDEX search_docs_contact_trgm;
DROP INDEX search_docs_other_trgm;
CREATE INDEX search_docs_collectivite_trgm
    ON search_docs USING gin ((translate(body, ' ', '0')) gin_trgm_ops)
    WHERE kind = 'collectivite';
CREATE INDEX search_docs_contact_trgm
    ON search_docs USING gin ((translate(body, ' ', '0')) gin_trgm_ops)
    WHERE kind = 'contact';
CREATE INDEX search_docs_other_trgm
    ON search_docs USING gin ((translate(body, ' ', '0')) gin_trgm_ops)
    WHERE kind NOT IN ('collectivite', 'contact');
ANALYZE search_docs;
