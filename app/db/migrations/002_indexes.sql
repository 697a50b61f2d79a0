-- The seven indexes of Step 7.4, by their names, plus the search indexes.
-- The `missing-indexes` fault switch skips this file (and drops these indexes if present).
-- Composite keys end with the sort column so "by owner, newest first" is one index scan.
CREATE INDEX IF NOT EXISTS idx_sessions_user_id       ON sessions (user_id, id DESC);
CREATE INDEX IF NOT EXISTS idx_messages_session_id    ON messages (session_id, id DESC);
CREATE INDEX IF NOT EXISTS idx_memories_profile_id    ON memories (profile_id, id DESC);
CREATE INDEX IF NOT EXISTS idx_agent_logs_session_id  ON agent_logs (session_id);
CREATE INDEX IF NOT EXISTS idx_memories_user_id       ON memories (user_id, id DESC);
CREATE INDEX IF NOT EXISTS idx_memories_created_at    ON memories (created_at DESC);
CREATE INDEX IF NOT EXISTS idx_messages_created_at    ON messages (created_at DESC);
-- Full-text search (ranked) on memory content. Fuzzy search (typos) has its own index on the
-- term dictionary (005; schema versions ≤ 3 had a trigram index on the content, see 004).
CREATE INDEX IF NOT EXISTS idx_memories_content_tsv   ON memories USING gin (content_tsv);
-- Foreign keys used by cleanup / cascades.
CREATE INDEX IF NOT EXISTS idx_profiles_user_id       ON profiles (user_id);
CREATE INDEX IF NOT EXISTS idx_agent_logs_message_id  ON agent_logs (message_id);
