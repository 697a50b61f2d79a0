/**
 * Token counting with the real OpenAI tokenizers, so budgets measured against the simulator mean
 * what they mean against OpenAI.
 *
 * - o200k_base: gpt-4o*, gpt-4.1*, gpt-5*, o1/o3/o4*, chatgpt-4o*
 * - cl100k_base: everything else (gpt-4, gpt-3.5-turbo, text-embedding-*)
 *
 * gpt-tokenizer, as the app uses: the same ranks as js-tiktoken give the same ids (the unit tests
 * check usage against js-tiktoken itself), and it counts everyday text about 5× faster. The
 * simulator shares the machine with the app it stands in for, and counting every prompt from
 * scratch was about a third of its busy time.
 *
 * Loading an encoding costs ~0.4–0.7 s of CPU, so each is loaded once, lazily, and can be
 * pre-warmed in the background (`warmTokenizers`), all of them or only those of the models in use.
 */
import { createRequire } from 'node:module';
import { AS_TEXT, encodeBounded, type BpeCodec } from '../agents/bounded-encode';

export type EncodingName = 'o200k_base' | 'cl100k_base';

const encoders = new Map<EncodingName, BpeCodec>();
// Loaded on first use, not at import: the simulator answers /health before its encoders are built.
const load = createRequire(__filename);
type EncodingModule = typeof import('gpt-tokenizer/encoding/o200k_base');
const MODULES: Record<EncodingName, () => EncodingModule> = {
  o200k_base: () => load('gpt-tokenizer/encoding/o200k_base') as EncodingModule,
  cl100k_base: () => load('gpt-tokenizer/encoding/cl100k_base') as EncodingModule,
};

export function encodingForModel(model: string): EncodingName {
  const name = model.replace(/^ft:/, '').toLowerCase();
  return /^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|chatgpt-4o|o\d)/.test(name) ? 'o200k_base' : 'cl100k_base';
}

export function getEncoder(encoding: EncodingName): BpeCodec {
  let encoder = encoders.get(encoding);
  if (!encoder) {
    const mod = MODULES[encoding]();
    encoder = { encode: (text) => mod.encode(text, AS_TEXT), decode: (ids) => mod.decode(ids) };
    encoders.set(encoding, encoder);
  }
  return encoder;
}

export function encoderForModel(model: string): BpeCodec {
  return getEncoder(encodingForModel(model));
}

const ALL_ENCODINGS: readonly EncodingName[] = ['o200k_base', 'cl100k_base'];

/**
 * Builds the encoders of `models` (default: every encoding) one after the other, yielding to the
 * event loop in between. Any other encoding is still built on first use.
 */
export function warmTokenizers(models?: readonly string[]): Promise<void> {
  const order = models ? ALL_ENCODINGS.filter((e) => models.some((m) => encodingForModel(m) === e)) : ALL_ENCODINGS;
  return order.reduce<Promise<void>>(
    (chain, encoding) =>
      chain.then(
        () =>
          new Promise<void>((resolve) => {
            setImmediate(() => {
              getEncoder(encoding);
              resolve();
            });
          }),
      ),
    Promise.resolve(),
  );
}

/** Repeated prompts (system prompt, memories, history) are counted once; bounded so it never grows. */
const COUNT_CACHE_LIMIT = 2000;
const countCache = new Map<string, number>();

export function countTokens(text: string, encoding: EncodingName): number {
  if (text.length === 0) return 0;
  const key = `${encoding}\u0000${text}`;
  const cached = countCache.get(key);
  if (cached !== undefined) return cached;
  const count = encodeBounded(getEncoder(encoding), text).length;
  if (text.length <= 100_000) {
    if (countCache.size >= COUNT_CACHE_LIMIT) {
      const oldest = countCache.keys().next();
      if (!oldest.done) countCache.delete(oldest.value);
    }
    countCache.set(key, count);
  }
  return count;
}

/** A chat message as the simulator reads it (after validation). */
export interface ChatMessageForCount {
  role: string;
  content: string;
  name?: string;
  /** Serialized tool calls of an assistant message, counted as text. */
  toolCalls?: string;
}

/**
 * Prompt tokens the way OpenAI counts chat messages (OpenAI cookbook, "How to count tokens with
 * tiktoken"): every message costs 3 tokens of framing plus its role and content, a `name` costs 1
 * more, and the reply is primed with 3 tokens.
 */
export function countChatPromptTokens(messages: readonly ChatMessageForCount[], model: string): number {
  const encoding = encodingForModel(model);
  const TOKENS_PER_MESSAGE = 3;
  const TOKENS_PER_NAME = 1;
  const REPLY_PRIMER = 3;
  let total = REPLY_PRIMER;
  for (const message of messages) {
    total += TOKENS_PER_MESSAGE;
    total += countTokens(message.role, encoding);
    total += countTokens(message.content, encoding);
    if (message.name !== undefined) total += countTokens(message.name, encoding) + TOKENS_PER_NAME;
    if (message.toolCalls !== undefined) total += countTokens(message.toolCalls, encoding);
  }
  return total;
}
