/**
 * Request validation: zod schemas for bodies, small parsers for query strings. Every failure is
 * a 400 `validation` error naming the field and what it should be.
 */
import { z } from 'zod';
import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, type SearchMode } from '../../contract';
import { HttpError } from './http';

const id = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export const MAX_MESSAGE_CHARS = 32_000;
export const MAX_MEMORY_CHARS = 10_000;
export const MAX_BULK_MEMORIES = 10_000;
export const MAX_QUERY_CHARS = 500;
export const DEFAULT_SEARCH_LIMIT = 10;

/**
 * Control characters (U+0000–U+001F) have no business in names or text, and PostgreSQL cannot
 * store NUL in text at all (it would fail the insert). Free text may keep tab, newline and CR.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const ANY_CONTROL = /[\u0000-\u001f]/;
// eslint-disable-next-line no-control-regex -- as above
const CONTROL_EXCEPT_WHITESPACE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/;
const NO_CONTROLS = 'must not contain control characters (U+0000–U+001F)';
const NO_CONTROLS_IN_TEXT =
  'must not contain control characters (U+0000–U+001F other than tab, newline and carriage return)';

/** A one-line string: names, titles, e-mail. */
const line = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !ANY_CONTROL.test(s), NO_CONTROLS);
/** Free text (messages, memories): line breaks and tabs allowed. */
const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !CONTROL_EXCEPT_WHITESPACE.test(s), NO_CONTROLS_IN_TEXT)
    .refine((s) => s.trim().length > 0, 'must not be empty');

export const createUserBody = z.object({
  email: line(320).pipe(
    z
      .string()
      .trim()
      .min(3)
      .regex(/^[^\s@]+@[^\s@]+$/, 'must be an email address'),
  ),
  displayName: line(200).optional(),
});

export const createProfileBody = z.object({ name: line(200).pipe(z.string().trim().min(1)) });

export const createSessionBody = z.object({
  title: line(200).optional(),
  profileId: id.optional(),
});

export const postMessageBody = z.object({
  content: text(MAX_MESSAGE_CHARS),
  stream: z.boolean().optional(),
});

const memoryItem = z.object({
  content: text(MAX_MEMORY_CHARS),
  profileId: id.optional(),
  importance: z.number().min(0).max(1).optional(),
});
export const createMemoryBody = memoryItem;
export const bulkMemoriesBody = z.object({ memories: z.array(memoryItem).min(1).max(MAX_BULK_MEMORIES) });

export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError('validation', 'request body must be a JSON object');
  }
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'body';
  throw new HttpError('validation', `${where}: ${issue?.message ?? 'invalid value'}`);
}

/**
 * Every query parameter, known or not: no control characters except tab, newline and CR (the
 * search text may carry them; the other parameters are numbers or words and are checked again).
 */
export function checkQueryText(url: URL): void {
  for (const [name, value] of url.searchParams) {
    if (CONTROL_EXCEPT_WHITESPACE.test(name) || CONTROL_EXCEPT_WHITESPACE.test(value)) {
      throw new HttpError('validation', `query parameter ${JSON.stringify(name.slice(0, 40))}: ${NO_CONTROLS_IN_TEXT}`);
    }
  }
}

function intQuery(url: URL, name: string, min: number, max: number): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^\d{1,15}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new HttpError(
      'validation',
      `query parameter ${name}="${raw.slice(0, 40)}" must be an integer in ${min}..${max}`,
    );
  }
  return Number(raw);
}

export function pageQuery(url: URL, defaultLimit = DEFAULT_PAGE_LIMIT): { limit: number; before: number | undefined } {
  return {
    limit: intQuery(url, 'limit', 1, MAX_PAGE_LIMIT) ?? defaultLimit,
    before: intQuery(url, 'before', 1, Number.MAX_SAFE_INTEGER),
  };
}

export function profileQuery(url: URL): number | undefined {
  return intQuery(url, 'profileId', 1, Number.MAX_SAFE_INTEGER);
}

export function searchQuery(url: URL): { q: string; limit: number; mode: SearchMode; profileId: number | undefined } {
  const q = (url.searchParams.get('q') ?? '').trim();
  if (q === '') throw new HttpError('validation', 'query parameter q is required (the text to search for)');
  if (q.length > MAX_QUERY_CHARS)
    throw new HttpError('validation', `query parameter q is longer than ${MAX_QUERY_CHARS} characters`);
  const mode = url.searchParams.get('mode') ?? 'auto';
  if (mode !== 'auto' && mode !== 'ranked' && mode !== 'fuzzy') {
    throw new HttpError('validation', `query parameter mode="${mode.slice(0, 20)}" must be auto, ranked or fuzzy`);
  }
  return {
    q,
    limit: intQuery(url, 'limit', 1, MAX_PAGE_LIMIT) ?? DEFAULT_SEARCH_LIMIT,
    mode,
    profileId: profileQuery(url),
  };
}
