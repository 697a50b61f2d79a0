-- MemoryChat reference schema, version 1.
-- Idempotent: every statement can run again on an existing database.
-- Users own profiles (personas); sessions, messages and memories hang off a user, so that
-- per-user isolation is one `WHERE user_id = $1` and the suite can clean up by user.

CREATE TABLE IF NOT EXISTS users (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email        text NOT NULL UNIQUE,
  display_name text NOT NULL DEFAULT '',
  token_hash   text NOT NULL UNIQUE,          -- sha256 hex of the bearer token
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS profiles (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id    bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS sessions (
  id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id            bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  profile_id         bigint REFERENCES profiles(id) ON DELETE SET NULL,
  title              text NOT NULL DEFAULT '',
  summary            text,                    -- rolling summary of older messages (summarizer agent)
  summary_upto_id    bigint,                  -- last message id covered by `summary`
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS messages (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  session_id  bigint NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  user_id     bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role        text NOT NULL CHECK (role IN ('user', 'assistant')),
  content     text NOT NULL,
  status      text NOT NULL DEFAULT 'complete' CHECK (status IN ('complete', 'streaming', 'error')),
  error       text,
  model       text,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS memories (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id     bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  profile_id  bigint REFERENCES profiles(id) ON DELETE SET NULL,
  content     text NOT NULL,
  importance  real NOT NULL DEFAULT 0.5,
  source_message_id bigint,                   -- the message it was extracted from, if any
  content_tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS agent_logs (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  session_id        bigint NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  message_id        bigint REFERENCES messages(id) ON DELETE CASCADE,
  user_id           bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  agent             text NOT NULL,
  model             text,
  prompt_tokens     integer NOT NULL DEFAULT 0,
  completion_tokens integer NOT NULL DEFAULT 0,
  latency_ms        real NOT NULL DEFAULT 0,
  status            text NOT NULL DEFAULT 'ok',
  error             text,
  created_at        timestamptz NOT NULL DEFAULT now()
);
