/**
 * Deterministic content for the simulator: plausible English replies that pick up words from the
 * user's last message, JSON answers for `response_format`, and embedding vectors.
 */
import { createRng, hashString, mixSeeds, type Rng } from './random';

const STOPWORDS = new Set(
  (
    'about above after again against also because been before being below between both could does doing down ' +
    'during each from further have having here hers herself himself into itself just more most myself other ' +
    'ought ours ourselves over same should some such than that their theirs them themselves then there these ' +
    'they this those through under until very were what when where which while whom will with would your yours ' +
    'yourself yourselves please tell know like want need think really thing things going make made much many ' +
    'well only even still remember what’s that’s live lives living love loves hate enjoy usually always never ' +
    'today tomorrow maybe something anything everything someone doing called named name help hello thanks'
  ).split(' '),
);

/** Content words of a message (lower-case, ≥ 4 letters, no stop words), in first-seen order. */
export function keywordsOf(text: string, limit = 8): string[] {
  const seen = new Set<string>();
  for (const match of text.toLowerCase().matchAll(/[a-zà-ÿ][a-zà-ÿ'-]{3,}/g)) {
    const word = match[0].replace(/^'+|'+$/g, '');
    if (word.length < 4 || STOPWORDS.has(word) || seen.has(word)) continue;
    seen.add(word);
    if (seen.size >= limit) break;
  }
  return [...seen];
}

const FALLBACK_TOPICS = ['your question', 'this topic', 'your plans', 'the details', 'your situation'];
const OPENERS = [
  'That is a good question about {k}.',
  'Thanks for sharing that about {k}.',
  'Let me help you think through {k}.',
  'Here is how I would look at {k}.',
  'Good point about {k}.',
];
const BODIES = [
  'When it comes to {k}, the most useful step is usually to {verb} {obj} first.',
  'Many people find that {k} works best when they {verb} {obj} on a regular schedule.',
  'A simple way to approach {k} is to {verb} {obj} and see what changes.',
  'If {k} matters to you, it helps to {verb} {obj} before deciding anything else.',
  'It is worth keeping {k} in mind while you {verb} {obj}.',
  'From what you said about {k} and {k2}, I would {verb} {obj} and keep notes.',
  'You mentioned {k}, so it could help to {verb} {obj} this week.',
  'One option is to {verb} {obj}, which often makes {k} much easier.',
  'Try to {verb} {obj}; small steps with {k} tend to add up over time.',
  'Based on what I remember about {k2}, {k} should fit in nicely if you {verb} {obj}.',
];
const CLOSERS = [
  'Let me know if you want more detail on {k}.',
  'I can suggest a few next steps for {k} if that helps.',
  'Would you like me to remember anything else about {k}?',
  'Happy to go deeper on {k} whenever you are ready.',
];
const VERBS = [
  'review',
  'compare',
  'write down',
  'plan',
  'organize',
  'check',
  'try out',
  'schedule',
  'simplify',
  'revisit',
];
const OBJECTS = [
  'the main options',
  'a short list of priorities',
  'what worked last time',
  'a realistic timeline',
  'the costs and benefits',
  'a few concrete goals',
  'the next small step',
  'your notes from before',
];

function fill(template: string, rng: Rng, keywords: readonly string[]): string {
  const topics = keywords.length > 0 ? keywords : FALLBACK_TOPICS;
  return template
    .replace('{k2}', rng.pick(topics))
    .replace('{k}', rng.pick(topics))
    .replace('{verb}', rng.pick(VERBS))
    .replace('{obj}', rng.pick(OBJECTS));
}

/**
 * An endless supply of sentences for one reply: an opener, body sentences, and (when the caller
 * stops) a closer. The caller decides how many it needs to reach its token target.
 */
export function* replySentences(seed: number, lastUserMessage: string): Generator<string, never, void> {
  const rng = createRng(seed);
  const keywords = keywordsOf(lastUserMessage);
  yield fill(rng.pick(OPENERS), rng, keywords);
  for (;;) {
    if (rng.next() < 0.12) yield fill(rng.pick(CLOSERS), rng, keywords);
    else yield fill(rng.pick(BODIES), rng, keywords);
  }
}

/**
 * First-person facts of a message ("I live in Berlin.", "My dog is called Rex."): what a memory
 * extractor would store. Sentences are split on end punctuation and new lines.
 */
export function firstPersonFacts(text: string, limit = 20): string[] {
  const facts: string[] = [];
  for (const raw of text.split(/(?<=[.!?])\s+|\n+/)) {
    const sentence = raw.replace(/^[\s"'“”‘’*\->•]+/, '').replace(/[\s"'“”‘’]+$/, '');
    if (!/^(?:I|I'm|I’m|I've|I’ve|I'd|I’d|I'll|I’ll|My|my)\b/.test(sentence)) continue;
    const fact = sentence.replace(/[.!?]+$/, '').trim();
    if (fact.length < 3 || facts.includes(fact)) continue;
    facts.push(fact);
    if (facts.length >= limit) break;
  }
  return facts;
}

/** A JSON value that fits a (simple) JSON schema: objects, arrays, strings, numbers, booleans, enums. */
export function exampleForSchema(schema: unknown, rng: Rng, keywords: readonly string[], depth = 0): unknown {
  if (typeof schema !== 'object' || schema === null || depth > 6) return null;
  const s = schema as Record<string, unknown>;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0] as unknown;
  if ('const' in s) return s.const;
  const anyOf = Array.isArray(s.anyOf) ? s.anyOf : Array.isArray(s.oneOf) ? s.oneOf : null;
  if (anyOf && anyOf.length > 0) return exampleForSchema(anyOf[0], rng, keywords, depth + 1);
  const type = Array.isArray(s.type) ? (s.type[0] as unknown) : s.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const props =
        typeof s.properties === 'object' && s.properties !== null ? (s.properties as Record<string, unknown>) : {};
      for (const [key, sub] of Object.entries(props)) out[key] = exampleForSchema(sub, rng, keywords, depth + 1);
      return out;
    }
    case 'array':
      return [exampleForSchema(s.items, rng, keywords, depth + 1)];
    case 'string':
      return keywords.length > 0 ? rng.pick(keywords) : 'example';
    case 'integer':
      return rng.int(0, 10);
    case 'number':
      return Math.round(rng.next() * 1000) / 100;
    case 'boolean':
      return rng.next() < 0.5;
    default:
      return null;
  }
}

/**
 * Deterministic embedding: feature hashing of the words (so texts sharing words have a higher
 * cosine similarity, like real embeddings) plus a small dense component from the whole text.
 * Unit length, like OpenAI's.
 */
export function embed(text: string, dimensions: number, seed: number): Float32Array {
  const vector = new Float32Array(dimensions);
  const dense = createRng(mixSeeds(seed, hashString(text)));
  for (let i = 0; i < dimensions; i++) vector[i] = (dense.next() - 0.5) * 0.2;
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  for (const word of words) {
    const rng = createRng(mixSeeds(seed, hashString(word, 0x5bd1e995)));
    for (let k = 0; k < 12; k++) {
      const index = Math.floor(rng.next() * dimensions);
      vector[index] = (vector[index] ?? 0) + (rng.next() < 0.5 ? -1 : 1);
    }
  }
  let norm = 0;
  for (let i = 0; i < dimensions; i++) norm += (vector[i] ?? 0) ** 2;
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < dimensions; i++) vector[i] = (vector[i] ?? 0) / norm;
  return vector;
}
