-- The trigram index of the fuzzy-search term dictionary (004), per user: btree_gin lets one GIN
-- index serve `user_id = $1 AND term % $2`. An index migration like 002: the `missing-indexes`
-- fault skips it (and drops it if present).
CREATE INDEX IF NOT EXISTS idx_memory_terms_trgm ON memory_terms USING gin (user_id, term gin_trgm_ops);
