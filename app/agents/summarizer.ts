/**
 * summarizer (small model): keeps a rolling summary of a long session in sessions.summary, so the
 * conversation prompt can stay within budget however long the session gets. It folds the messages
 * that fell out of the verbatim window into the previous summary, and only every
 * MEMORYCHAT_SUMMARY_EVERY messages (not on every message). It runs concurrently with the
 * conversation; the new summary serves the next messages.
 */
import type { HistoryMessage } from '../db/repo';
import type { Slice } from './budget';
import type { ChatMessage, ModelClient, ModelResult } from './model';
import { countCached, countTokens, REPLY_PRIMER, TOKENS_PER_MESSAGE, truncateToTokens } from './tokens';

const SYSTEM =
  'Summarize the conversation between the user and the assistant in at most 150 words. ' +
  'Keep facts about the user, decisions and open questions; drop small talk. Write plain prose.';

/**
 * Builds the prompt from the previous summary and the messages to fold in (newest first); the newest
 * are kept when they don't all fit.
 */
export function buildSummarizerPrompt(
  previous: string | null,
  messages: readonly HistoryMessage[],
  slice: Slice,
): { prompt: ChatMessage[]; uptoId: number } | undefined {
  let budget = slice.prompt - REPLY_PRIMER - 2 * TOKENS_PER_MESSAGE - countCached('sys:summarizer', SYSTEM) - 10;
  const parts: string[] = [];
  let prev = '';
  if (previous) {
    const p = truncateToTokens(previous, Math.floor(budget / 3));
    prev = `Summary so far:\n${p.text}\n\n`;
    budget -= p.tokens + 6;
  }
  let uptoId = 0;
  for (const m of messages) {
    const line = `${m.role}: ${m.content}`;
    let tokens = countCached(`sum:${m.id}`, line);
    let text = line;
    if (tokens > 300) ({ text, tokens } = truncateToTokens(line, 300));
    if (tokens + 1 > budget) break;
    budget -= tokens + 1;
    parts.push(text);
    uptoId = Math.max(uptoId, m.id);
  }
  if (parts.length === 0) return undefined;
  const user = `${prev}New messages:\n${parts.reverse().join('\n')}`;
  return {
    prompt: [
      { role: 'system', content: SYSTEM },
      { role: 'user', content: user },
    ],
    uptoId,
  };
}

export async function summarize(
  model: ModelClient,
  modelName: string,
  prompt: ChatMessage[],
  slice: Slice,
  signal?: AbortSignal,
): Promise<{ result: ModelResult; summary: string }> {
  const result = await model.chat({ model: modelName, messages: prompt, maxTokens: slice.completion, signal });
  const summary = result.text.trim();
  if (summary === '' || countTokens(summary) === 0) throw new Error('summarizer: the model returned an empty summary');
  return { result, summary };
}
