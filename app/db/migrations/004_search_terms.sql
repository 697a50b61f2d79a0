-- Fuzzy search through a per-user term dictionary, as the pg_trgm documentation recommends for
-- typo-tolerant full-text search ("Text Search Integration"): a typo is corrected against the
-- distinct search terms of the user's memories (a few thousand, trigram-indexed), then the
-- corrected terms are looked up in the full-text index. It replaces a trigram index over every
-- memory's whole text, which cost ≈ 40 µs per inserted memory (3× the rest of an insert) and
-- made a typo search at 100,000 memories take ≈ 0.3 s.
-- Idempotent: every statement can run again.

-- Writers may supply content_tsv (bulk loaders reuse vectors Postgres computed for the same
-- text); anyone else gets it computed, as the generated column did. NOT NULL catches a writer
-- that bypasses the trigger (session_replication_role = replica) without supplying it.
ALTER TABLE memories ALTER COLUMN content_tsv DROP EXPRESSION IF EXISTS;
ALTER TABLE memories ALTER COLUMN content_tsv SET NOT NULL;

CREATE OR REPLACE FUNCTION memories_fill_tsv() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' OR NEW.content_tsv IS NULL THEN
    NEW.content_tsv := to_tsvector('english', NEW.content);
  END IF;
  RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS memories_fill_tsv ON memories;
CREATE TRIGGER memories_fill_tsv BEFORE INSERT OR UPDATE OF content ON memories
  FOR EACH ROW EXECUTE FUNCTION memories_fill_tsv();

-- The dictionary: each search term (English lexeme) a user's memories contain. Kept by
-- statement-level triggers, one set-based INSERT per statement, so bulk loads stay bulk. They
-- fire ALWAYS, also for sessions in replica mode (bulk loaders, logical replication), because
-- the dictionary is derived from the rows like an index. Terms of deleted memories stay: a
-- stale term only widens a fuzzy query, the memories it finds are still the user's own.
CREATE TABLE IF NOT EXISTS memory_terms (
  user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  term    text NOT NULL,
  PRIMARY KEY (user_id, term)
);

CREATE OR REPLACE FUNCTION memory_terms_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Sorted, so two concurrent loads for one user lock the same keys in the same order.
  INSERT INTO memory_terms (user_id, term)
  SELECT DISTINCT n.user_id, t.term
  FROM new_rows n, unnest(tsvector_to_array(n.content_tsv)) AS t(term)
  ORDER BY 1, 2
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS memory_terms_on_insert ON memories;
CREATE TRIGGER memory_terms_on_insert AFTER INSERT ON memories
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION memory_terms_add();
DROP TRIGGER IF EXISTS memory_terms_on_update ON memories;
CREATE TRIGGER memory_terms_on_update AFTER UPDATE ON memories
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION memory_terms_add();
ALTER TABLE memories ENABLE ALWAYS TRIGGER memory_terms_on_insert;
ALTER TABLE memories ENABLE ALWAYS TRIGGER memory_terms_on_update;

INSERT INTO memory_terms (user_id, term)
SELECT DISTINCT m.user_id, t.term FROM memories m, unnest(tsvector_to_array(m.content_tsv)) AS t(term)
ORDER BY 1, 2
ON CONFLICT DO NOTHING;

-- The old whole-text trigram index (created by 002 in schema versions ≤ 3).
DROP INDEX IF EXISTS idx_memories_content_trgm;
