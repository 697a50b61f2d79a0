/**
 * memory_extractor (small model): asks for durable facts about the user in the new message, as
 * JSON, and stores them as memories linked to that message. Runs concurrently with the
 * conversation, so it adds (almost) nothing to the reply's latency.
 */
import type { Slice } from './budget';
import type { ChatMessage, ModelClient, ModelResult } from './model';
import { countCached, REPLY_PRIMER, TOKENS_PER_MESSAGE, truncateToTokens } from './tokens';

const SYSTEM =
  'You extract durable facts about the user (preferences, people, plans, biography) from their message. ' +
  'Answer with JSON only: {"memories": [{"content": "<one fact, first person>", "importance": <0..1>}]}. ' +
  'Use an empty list when there is nothing worth remembering.';

export interface ExtractedMemory {
  content: string;
  importance: number;
}

export const MAX_EXTRACTED = 5;
const MAX_MEMORY_CHARS = 500;

export function buildExtractorPrompt(userText: string, slice: Slice): ChatMessage[] {
  const fixed = REPLY_PRIMER + 2 * TOKENS_PER_MESSAGE + countCached('sys:extractor', SYSTEM);
  const user = truncateToTokens(userText, Math.max(0, slice.prompt - fixed));
  return [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: user.text },
  ];
}

/** Accepts `{"memories": [...]}` with strings or `{content, importance}` items; anything else is an error. */
export function parseExtraction(text: string): ExtractedMemory[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`memory_extractor: the model's answer is not JSON (${text.slice(0, 80)})`);
  }
  const list = (parsed as { memories?: unknown }).memories;
  if (!Array.isArray(list)) throw new Error('memory_extractor: the model\'s JSON has no "memories" array');
  const out: ExtractedMemory[] = [];
  for (const item of list) {
    const content =
      typeof item === 'string'
        ? item
        : typeof item === 'object' && item !== null
          ? (item as { content?: unknown }).content
          : undefined;
    if (typeof content !== 'string' || content.trim() === '') continue;
    const rawImportance =
      typeof item === 'object' && item !== null ? (item as { importance?: unknown }).importance : undefined;
    const importance =
      typeof rawImportance === 'number' && rawImportance >= 0 && rawImportance <= 1 ? rawImportance : 0.6;
    out.push({ content: content.trim().slice(0, MAX_MEMORY_CHARS), importance });
    if (out.length >= MAX_EXTRACTED) break;
  }
  return out;
}

export async function extractMemories(
  model: ModelClient,
  modelName: string,
  userText: string,
  slice: Slice,
  signal?: AbortSignal,
): Promise<{ result: ModelResult; memories: ExtractedMemory[] }> {
  const result = await model.chat({
    model: modelName,
    messages: buildExtractorPrompt(userText, slice),
    maxTokens: slice.completion,
    json: true,
    signal,
  });
  return { result, memories: parseExtraction(result.text) };
}
