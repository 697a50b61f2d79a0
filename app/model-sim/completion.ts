/**
 * Builds one chat completion: the text (or JSON), its tokens, the stream chunks, the finish reason.
 * Deterministic for a given seed and prompt.
 */
import { encodeBounded } from '../agents/bounded-encode';
import { exampleForSchema, firstPersonFacts, keywordsOf, replySentences } from './generate';
import { createRng, hashString, mixSeeds } from './random';
import { encoderForModel } from './tokens';
import type { ChatRequest } from './validate';

export interface Completion {
  text: string;
  /** Token count of `text` with the model's tokenizer. */
  completionTokens: number;
  /** Stream pieces; `lastToken` is the 0-based index of the last token the piece contains. */
  pieces: Array<{ text: string; lastToken: number }>;
  finishReason: 'stop' | 'length';
}

/** Default reply length for plain text, when the client sets no smaller max_tokens. */
const DEFAULT_LENGTH = { min: 60, max: 120 } as const;

export function lastUserText(request: ChatRequest): string {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const message = request.messages[i];
    if (message?.role === 'user') return message.content;
  }
  return request.messages[request.messages.length - 1]?.content ?? '';
}

/** A seed from the request's content (model + messages): the same request → the same seed. */
export function promptSeed(seed: number, request: ChatRequest): number {
  let h = hashString(request.model, seed);
  for (const message of request.messages) h = hashString(message.content, hashString(message.role, h));
  return mixSeeds(seed, h);
}

/** Fills a schema's `memories` array (if any) with the extracted facts, keeping the schema's shape. */
function memoriesForSchema(schema: unknown, facts: readonly string[]): unknown[] | null {
  if (typeof schema !== 'object' || schema === null) return null;
  const props = (schema as { properties?: Record<string, unknown> }).properties;
  const memories = props?.memories as
    { type?: unknown; items?: { type?: unknown; properties?: Record<string, { type?: unknown }> } } | undefined;
  if (!memories || memories.type !== 'array') return null;
  const items = memories.items;
  if (items?.type === 'object' && items.properties) {
    const stringKey = Object.entries(items.properties).find(([, sub]) => sub.type === 'string')?.[0];
    return facts.map((fact) => {
      const entry: Record<string, unknown> = {};
      for (const [key, sub] of Object.entries(items.properties ?? {})) {
        entry[key] = key === stringKey ? fact : exampleForSchema(sub, createRng(hashString(fact)), [fact]);
      }
      return entry;
    });
  }
  return [...facts];
}

function jsonText(request: ChatRequest, seed: number, facts: readonly string[]): string {
  if (request.responseFormat.type === 'json_schema') {
    const schema = request.responseFormat.schema;
    const example = exampleForSchema(schema, createRng(seed), keywordsOf(lastUserText(request)));
    const memories = memoriesForSchema(schema, facts);
    if (memories && typeof example === 'object' && example !== null)
      (example as Record<string, unknown>).memories = memories;
    return JSON.stringify(example);
  }
  return JSON.stringify({ memories: facts });
}

/** Splits tokens into stream pieces, merging tokens that only together form whole UTF-8 characters. */
function toPieces(tokens: readonly number[], decode: (t: number[]) => string): Completion['pieces'] {
  const pieces: Completion['pieces'] = [];
  let pending: number[] = [];
  tokens.forEach((token, index) => {
    pending.push(token);
    const text = decode(pending);
    if (text.endsWith('\uFFFD') && index < tokens.length - 1 && pending.length < 4) return;
    pieces.push({ text, lastToken: index });
    pending = [];
  });
  return pieces;
}

export function buildCompletion(request: ChatRequest, seed: number): Completion {
  const encoder = encoderForModel(request.model);
  const contentSeed = promptSeed(seed, request);
  const maxTokens = request.maxTokens ?? Number.MAX_SAFE_INTEGER;
  let text: string;

  if (request.responseFormat.type === 'text') {
    const target = Math.min(createRng(contentSeed ^ 0x1234).int(DEFAULT_LENGTH.min, DEFAULT_LENGTH.max), maxTokens);
    const sentences = replySentences(contentSeed, lastUserText(request));
    text = '';
    // Whole sentences until the target is reached; bounded in count for safety. Sentences are
    // counted one by one (BPE pre-splits at the joining space, so the sum matches the whole text
    // closely); the exact count is taken once below.
    let approxTokens = 0;
    for (let i = 0; i < 2000 && approxTokens < target; i++) {
      const sentence = (text ? ' ' : '') + sentences.next().value;
      approxTokens += encodeBounded(encoder, sentence).length;
      text += sentence;
    }
  } else {
    let facts = firstPersonFacts(lastUserText(request));
    text = jsonText(request, contentSeed, facts);
    // Keep the JSON valid when max_tokens is tight: drop facts rather than cut the document.
    while (facts.length > 0 && encodeBounded(encoder, text).length > maxTokens) {
      facts = facts.slice(0, -1);
      text = jsonText(request, contentSeed, facts);
    }
  }

  let finishReason: Completion['finishReason'] = 'stop';
  for (const stop of request.stop) {
    const at = stop === '' ? -1 : text.indexOf(stop);
    if (at >= 0) text = text.slice(0, at);
  }
  let tokens = encodeBounded(encoder, text);
  if (tokens.length > maxTokens) {
    tokens = tokens.slice(0, maxTokens);
    text = encoder.decode(tokens);
    finishReason = 'length';
  }
  return {
    text,
    completionTokens: tokens.length,
    pieces: toPieces(tokens, (t) => encoder.decode(t)),
    finishReason,
  };
}
