-- Per-call detail of an agent (e.g. how many memories / history messages went into the prompt),
-- so `GET /api/messages/:id/usage` can answer from agent_logs alone.
ALTER TABLE agent_logs ADD COLUMN IF NOT EXISTS detail jsonb;
