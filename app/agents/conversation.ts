/**
 * conversation agent: builds the main model's prompt within its token slice and streams the reply.
 *
 * Prompt = system (instructions + rolling summary + memories) + verbatim history (newest that fit,
 * in order) + the user's message. Each part has a share of the slice; what one part leaves
 * unused goes to the history. `token-bloat` skips all of it: every memory retrieved and the
 * whole conversation, untrimmed.
 */
import type { HistoryMessage } from '../db/repo';
import {
  MAX_MEMORIES_IN_PROMPT,
  MAX_TOKENS_PER_HISTORY_MESSAGE,
  MAX_TOKENS_PER_MEMORY,
  PROMPT_SHARES,
  type Slice,
} from './budget';
import type { RetrievedMemory } from './memory-retriever';
import type { ChatMessage } from './model';
import { countCached, countTokens, REPLY_PRIMER, TOKENS_PER_MESSAGE, truncateToTokens } from './tokens';

const INSTRUCTIONS =
  'You are MemoryChat, a helpful assistant with a long-term memory of the user. ' +
  'Use what you remember and the summary of the earlier conversation when it is relevant; ' +
  'do not invent facts. Be concise.';
/**
 * The `extra-token` fault (compare mode's "+1 token per message"): " very" is one o200k token, and
 * the words around it keep theirs, so every prompt grows by exactly one token (a unit test checks).
 */
const INSTRUCTIONS_PLUS_ONE_TOKEN = INSTRUCTIONS.replace(/Be concise\.$/, 'Be very concise.');

/** The conversation agent's instructions, one token longer under the `extra-token` fault. */
export function conversationInstructions(extraToken: boolean): string {
  return extraToken ? INSTRUCTIONS_PLUS_ONE_TOKEN : INSTRUCTIONS;
}
const SUMMARY_HEADER = '\n\nSummary of the earlier conversation:\n';
const MEMORY_HEADER = '\n\nWhat you remember about the user:';

export interface ConversationPrompt {
  messages: ChatMessage[];
  /** Our own count of the prompt (the provider's usage is authoritative). */
  estimatedTokens: number;
  memoriesInPrompt: number;
  historyMessagesInPrompt: number;
}

export function buildConversationPrompt(args: {
  slice: Slice;
  userText: string;
  summary: string | null;
  memories: readonly RetrievedMemory[];
  /** Newest first. */
  history: readonly HistoryMessage[];
  trim: boolean;
  /** The `extra-token` fault: instructions one token longer. */
  extraToken?: boolean;
}): ConversationPrompt {
  const instructions = conversationInstructions(args.extraToken ?? false);
  if (!args.trim) return untrimmed({ ...args, instructions });
  const budget = args.slice.prompt;
  // Fixed costs: framing of system + user message, reply primer, the instructions.
  let used = REPLY_PRIMER + 2 * TOKENS_PER_MESSAGE + countCached(`sys:${instructions}`, instructions);

  const user = truncateToTokens(args.userText, Math.floor(budget * PROMPT_SHARES.userMessage));
  used += user.tokens;

  let system = instructions;
  if (args.summary) {
    const s = truncateToTokens(args.summary, Math.floor(budget * PROMPT_SHARES.summary));
    system += SUMMARY_HEADER + s.text;
    used += s.tokens + 8;
  }

  let memoryBudget = Math.floor(budget * PROMPT_SHARES.memories);
  const lines: string[] = [];
  for (const m of args.memories) {
    if (lines.length >= MAX_MEMORIES_IN_PROMPT) break;
    let text = m.content;
    let tokens = countCached(`mem:${m.id}`, text);
    if (tokens > MAX_TOKENS_PER_MEMORY) ({ text, tokens } = truncateToTokens(text, MAX_TOKENS_PER_MEMORY));
    // "\n- " costs about 2 tokens.
    if (tokens + 2 > memoryBudget) continue;
    memoryBudget -= tokens + 2;
    used += tokens + 2;
    lines.push(`\n- ${text}`);
  }
  if (lines.length > 0) {
    system += MEMORY_HEADER + lines.join('');
    used += 8;
  }

  const history: ChatMessage[] = [];
  for (const h of args.history) {
    let text = h.content;
    let tokens = countCached(`msg:${h.id}`, text);
    if (tokens > MAX_TOKENS_PER_HISTORY_MESSAGE)
      ({ text, tokens } = truncateToTokens(text, MAX_TOKENS_PER_HISTORY_MESSAGE));
    if (used + tokens + TOKENS_PER_MESSAGE > budget) break;
    used += tokens + TOKENS_PER_MESSAGE;
    history.push({ role: h.role, content: text });
  }
  history.reverse();
  return {
    messages: [{ role: 'system', content: system }, ...history, { role: 'user', content: user.text }],
    estimatedTokens: used,
    memoriesInPrompt: lines.length,
    historyMessagesInPrompt: history.length,
  };
}

function untrimmed(args: {
  userText: string;
  summary: string | null;
  memories: readonly RetrievedMemory[];
  history: readonly HistoryMessage[];
  instructions: string;
}): ConversationPrompt {
  let system = args.instructions;
  if (args.summary) system += SUMMARY_HEADER + args.summary;
  if (args.memories.length > 0) system += MEMORY_HEADER + args.memories.map((m) => `\n- ${m.content}`).join('');
  const history = [...args.history].reverse().map((h): ChatMessage => ({ role: h.role, content: h.content }));
  const messages: ChatMessage[] = [
    { role: 'system', content: system },
    ...history,
    { role: 'user', content: args.userText },
  ];
  return {
    messages,
    estimatedTokens: messages.reduce((n, m) => n + TOKENS_PER_MESSAGE + countTokens(m.content), REPLY_PRIMER),
    memoriesInPrompt: args.memories.length,
    historyMessagesInPrompt: history.length,
  };
}
