/**
 * Token → user, remembered briefly: every API call authenticates, and a database round trip per
 * request for an answer that almost never changes was a third of a session create's time.
 *
 * A cached entry must die with its user, also when someone else deletes the user (the suite's
 * cleanup deletes users in plain SQL): migration 006 makes every deleted user (or replaced
 * token) notify `memorychat_user_changed` with the old token hash, and the app LISTENs on a
 * connection of its own. While that connection is down a delete could go unnoticed, so then the
 * cache serves nothing (every request asks the database) until it listens again.
 */
import pg from 'pg';
import type { User } from '../../contract';

export const USER_CHANGED_CHANNEL = 'memorychat_user_changed';

export class AuthCache {
  private readonly entries = new Map<string, { user: User; expires: number }>();
  private listening = false;

  constructor(
    private readonly ttlMs = 30_000,
    private readonly maxEntries = 10_000,
  ) {}

  get(tokenHash: string): User | undefined {
    if (!this.listening) return undefined;
    const hit = this.entries.get(tokenHash);
    if (!hit) return undefined;
    if (hit.expires > performance.now()) return hit.user;
    this.entries.delete(tokenHash);
    return undefined;
  }

  /** Only known tokens are cached, so a new user works at once. */
  set(tokenHash: string, user: User): void {
    if (!this.listening) return;
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(tokenHash, { user, expires: performance.now() + this.ttlMs });
  }

  forget(tokenHash: string): void {
    this.entries.delete(tokenHash);
  }

  /** Whether deletes are being heard; going deaf drops every entry (notifications may have been missed). */
  setListening(listening: boolean): void {
    this.listening = listening;
    if (!listening) this.entries.clear();
  }

  /** False while the LISTEN connection is down (the cache then serves nothing). */
  get isListening(): boolean {
    return this.listening;
  }
}

export interface UserChangeListener {
  /** Resolves once the first LISTEN is in place (or failed: the cache then stays off and retries). */
  ready: Promise<void>;
  stop(): Promise<void>;
}

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10_000;

/** Keeps one connection LISTENing for user changes and feeds them to `cache`; reconnects with backoff. */
export function listenForUserChanges(
  databaseUrl: string,
  cache: AuthCache,
  log: (line: string) => void,
): UserChangeListener {
  let stopped = false;
  let client: pg.Client | undefined;
  let retryMs = RECONNECT_MIN_MS;
  let retryTimer: NodeJS.Timeout | undefined;

  const lost = (why: string): void => {
    cache.setListening(false);
    const gone = client;
    client = undefined;
    gone?.removeAllListeners('end');
    gone?.end().catch(() => undefined);
    if (stopped) return;
    log(`auth cache off (${why}); reconnecting in ${retryMs} ms`);
    retryTimer = setTimeout(() => void connect(), retryMs);
    retryTimer.unref();
    retryMs = Math.min(retryMs * 2, RECONNECT_MAX_MS);
  };

  const connect = async (): Promise<void> => {
    if (stopped) return;
    const c = new pg.Client({
      connectionString: databaseUrl,
      application_name: 'memorychat-auth-listener',
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
    });
    client = c;
    c.on('notification', (n) => {
      if (n.channel === USER_CHANGED_CHANNEL && n.payload) cache.forget(n.payload);
    });
    c.on('error', (err) => {
      if (client === c) lost(err.message);
    });
    c.on('end', () => {
      if (client === c) lost('connection closed');
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${USER_CHANGED_CHANNEL}`);
      if (client !== c) return;
      retryMs = RECONNECT_MIN_MS;
      cache.setListening(true);
    } catch (err) {
      if (client === c) lost(err instanceof Error ? err.message : String(err));
    }
  };

  return {
    ready: connect(),
    stop: async () => {
      stopped = true;
      clearTimeout(retryTimer);
      cache.setListening(false);
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
