/**
 * Token counting for the prompt budget, with OpenAI's own tokenizer (o200k_base: gpt-4o*,
 * gpt-4.1*), so "≤ 5,000 tokens" means what the model provider bills.
 *
 * gpt-tokenizer (the model simulator bills with it too), not js-tiktoken (the same ranks give the
 * same ids; the unit tests check the simulator's usage against it): its count keeps a cache of
 * word pieces, so everyday text counts ≈ 5× faster (a 200-message history that was never counted
 * cost ≈ 4 ms of a ≈ 15 ms turn), and it loads in ≈ 0.4 s instead of ≈ 1.2 s. Counts of immutable
 * texts (stored messages and memories, keyed by id) are cached too: a long conversation is
 * counted once, not on every message.
 *
 * The encoding is loaded on first use, not with this module: its ≈ 0.5 s of CPU was a third of the
 * stack's start. The stack warms it once the app is idle after it reports ready (stack.ts).
 */
import { createRequire } from 'node:module';
import { AS_TEXT, encodeBounded, hasLongRun, type BpeCodec } from './bounded-encode';

type O200k = typeof import('gpt-tokenizer/encoding/o200k_base');
const load = createRequire(__filename);
let o200k: O200k | undefined;
const encoding = (): O200k => (o200k ??= load('gpt-tokenizer/encoding/o200k_base') as O200k);

const encoder: BpeCodec = {
  encode: (text) => encoding().encode(text, AS_TEXT),
  decode: (ids) => encoding().decode(ids),
};

/** The encoder, loaded and warmed (the stack calls this once the app is idle after ready). */
export function tokenizer(): typeof encoder {
  encoding().countTokens('warm up');
  return encoder;
}

export function countTokens(text: string): number {
  if (text.length === 0) return 0;
  return hasLongRun(text) ? encodeBounded(encoder, text).length : encoding().countTokens(text, AS_TEXT);
}

const CACHE_LIMIT = 50_000;
const cache = new Map<string, number>();

/** Token count of an immutable text identified by `key` (e.g. `m:123` for message 123). */
export function countCached(key: string, text: string): number {
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const n = countTokens(text);
  if (cache.size >= CACHE_LIMIT) {
    const oldest = cache.keys().next();
    if (!oldest.done) cache.delete(oldest.value);
  }
  cache.set(key, n);
  return n;
}

/** Cuts `text` to at most `maxTokens` tokens (marking the cut); returns it unchanged if it fits. */
export function truncateToTokens(text: string, maxTokens: number): { text: string; tokens: number } {
  if (maxTokens <= 0) return { text: '', tokens: 0 };
  // Cheap exit: a token is at least one character, so short texts always fit.
  if (text.length <= maxTokens) return { text, tokens: countTokens(text) };
  const ids = encodeBounded(encoder, text);
  if (ids.length <= maxTokens) return { text, tokens: ids.length };
  const kept = encoder.decode(ids.slice(0, Math.max(0, maxTokens - 2)));
  const out = `${kept} …`;
  return { text: out, tokens: countTokens(out) };
}

/** Chat framing as OpenAI counts it: 3 per message + 1 for the role, 3 to prime the reply. */
export const TOKENS_PER_MESSAGE = 4;
export const REPLY_PRIMER = 3;

export function chatPromptTokens(messages: readonly { role: string; content: string }[]): number {
  let total = REPLY_PRIMER;
  for (const m of messages) total += TOKENS_PER_MESSAGE + countTokens(m.content);
  return total;
}
