/**
 * Secret redaction for everything the suite writes: logs, reports, attachments, annotations.
 *
 * Secrets in this project: the OpenAI key, database passwords (inside connection URLs) and
 * user bearer tokens. Redaction is pattern-based (so it also catches secrets inside error
 * messages we did not write) plus value-based for the configured key.
 */

const MASK = '***';

/**
 * Userinfo password of any URL inside a text. The password runs to the LAST `@` before a space,
 * so a raw `@`, `/` or quote in it (`postgres://u:p@ss/w'0rd@host/db`, which `pg` accepts) is
 * masked whole; the user may be empty. Masking more than the password when an `@` follows in the
 * same word (a port and path before an `@` in a query) is the price.
 */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^/\s:@'"]*):\S*@/gi;
/** A lone URL: everything between `://` and its last `@` is userinfo, quotes and spaces included. */
const LONE_URL_USERINFO = /^(\s*[a-z][a-z0-9+.-]*:\/\/)([^:@]*):([\s\S]*)@/i;

/**
 * A connection URL as reports and messages may show it: `postgres://user:secret@host/db` →
 * `postgres://user:***@host/db` (any scheme), and a password given as a query parameter
 * (`?password=…`, `sslpassword=…`, which `pg` reads too) masked as well.
 */
export function redactUrl(url: string): string {
  return redact(url.replace(LONE_URL_USERINFO, `$1$2:${MASK}@`));
}

const PATTERNS: [RegExp, string][] = [
  [URL_PASSWORD, `$1:${MASK}@`],
  // Bearer tokens in headers or messages.
  [/(bearer\s+)[A-Za-z0-9._~+/=-]+/gi, `$1${MASK}`],
  // OpenAI-style keys (sk-…, sk-proj-…). 'sk-simulator' is a placeholder, but masking it is harmless.
  [/\bsk-[A-Za-z0-9_-]{6,}/g, `sk-${MASK}`],
  // A quoted secret value (libpq's `password='se cret'`): masked to its closing quote.
  [/((?:api[_-]?key|password|passwd|secret|token)["']?\s*[:=]\s*)(["'])(?:(?!\2)[^\n])*\2/gi, `$1$2${MASK}$2`],
  // key=value / "key": "value" pairs whose key names a secret.
  // (Not the word `Bearer` of `Authorization: Bearer …`: the token after it is masked above.)
  [
    /((?:api[_-]?key|password|passwd|secret|token|authorization)["']?\s*[:=]\s*["']?)(?!bearer\s)([^"'\s,&}]+)/gi,
    `$1${MASK}`,
  ],
];

/** Extra literal secrets to mask (e.g. the configured OPENAI_API_KEY), registered once at startup. */
const literalSecrets = new Set<string>();

export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 6) literalSecrets.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const secret of literalSecrets) out = out.split(secret).join(MASK);
  for (const [re, replacement] of PATTERNS) out = out.replace(re, replacement);
  return out;
}

/** Redacts every string inside a JSON-able value (numbers and structure untouched). */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => redactDeep(v)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = redactDeep(v);
    return out as T;
  }
  return value;
}

/** Keys that name a secret (at the end: `accessToken`, `DB_PASSWORD`, `OPENAI_API_KEY`; not `tokenBudget`). */
const SECRET_KEY = /(pass(word|wd)?|secret|token|api[_-]?key|authorization|cookie|credentials?|private[_-]?key)$/i;

/**
 * {@link redactDeep}, and a value whose key names a secret is masked whole (booleans and empty
 * values kept: `hasKey: true` says nothing secret). For what reports keep of the environment.
 */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > 20) return '[depth limit]';
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const secret = SECRET_KEY.test(k) && v !== null && v !== undefined && v !== '' && typeof v !== 'boolean';
      out[k] = secret ? MASK : redactSecrets(v, depth + 1);
    }
    return out;
  }
  return value;
}
