-- Version 6: tell running apps when a bearer token stops being valid.
-- The app caches token → user (every request authenticates). A user deleted, or given a new
-- token, by anyone (the suite's cleanup deletes users in plain SQL) must stop working at once:
-- each such row notifies the channel with the old token hash, and the app forgets that entry.
-- Idempotent: the function is replaced, the trigger dropped and created again.

CREATE OR REPLACE FUNCTION memorychat_notify_user_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('memorychat_user_changed', OLD.token_hash);
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS users_notify_changed ON users;
CREATE TRIGGER users_notify_changed
  AFTER DELETE OR UPDATE OF token_hash ON users
  FOR EACH ROW EXECUTE FUNCTION memorychat_notify_user_changed();
