/**
 * How one chat message's token budget (MEMORYCHAT_TOKEN_BUDGET, default 5,000) is shared by the
 * agents that run for it. Agents run concurrently, so each gets a fixed slice up front; the
 * conversation gets what is left. Every slice caps prompt *and* completion (max_tokens), so the
 * sum of all usage can't exceed the budget.
 */

export interface Slice {
  prompt: number;
  completion: number;
}

export interface BudgetPlan {
  total: number;
  extractor: Slice;
  /** Zero when the summarizer doesn't run for this message. */
  summarizer: Slice;
  conversation: Slice;
}

export function planBudget(total: number, summarizerRuns: boolean): BudgetPlan {
  const extractor: Slice = { prompt: Math.floor(total * 0.1), completion: Math.floor(total * 0.03) };
  const summarizer: Slice = summarizerRuns
    ? { prompt: Math.floor(total * 0.2), completion: Math.floor(total * 0.05) }
    : { prompt: 0, completion: 0 };
  // A small margin for tokenizer differences between our count and the provider's.
  const margin = Math.floor(total * 0.02);
  const completion = Math.floor(total * 0.1);
  const prompt =
    total - margin - completion - extractor.prompt - extractor.completion - summarizer.prompt - summarizer.completion;
  return { total, extractor, summarizer, conversation: { prompt, completion } };
}

/** Shares of the conversation prompt (the rest goes to verbatim history). */
export const PROMPT_SHARES = {
  userMessage: 0.3,
  summary: 0.15,
  memories: 0.25,
} as const;

/** At most this many memories go into a prompt, each cut to at most this many tokens. */
export const MAX_MEMORIES_IN_PROMPT = 20;
export const MAX_TOKENS_PER_MEMORY = 120;
/** One very long earlier message must not crowd out the rest of the history. */
export const MAX_TOKENS_PER_HISTORY_MESSAGE = 400;
/** Newest messages loaded for the verbatim window (bounded read, whatever the session length). */
export const HISTORY_WINDOW = 60;
