/**
 * Tokens per agent from the `usage` of chat messages (tokens.spec.ts): which model each agent ran
 * on, its mean tokens and latency per call, and one message's tokens by agent.
 */
import type { AgentUsage, Health, MessageUsage } from '../../contract';
import { avg, round } from '../verdict/numbers';

/** Every call of `agent` in the messages, skipped ones included. */
export function callsOf(usages: readonly MessageUsage[], agent: string): AgentUsage[] {
  return usages.flatMap((u) => u.agents.filter((a) => a.agent === agent));
}

/** One message's tokens, total and by agent (what a growth ratio is made of). */
export function agentTokens(u: MessageUsage): Record<string, number> {
  const row: Record<string, number> = {
    total: u.totalTokens,
    historyInPrompt: u.historyMessagesInPrompt,
    memoriesInPrompt: u.memoriesInPrompt,
  };
  for (const a of u.agents) row[a.agent] = a.totalTokens;
  return row;
}

export interface AgentRow {
  agent: string;
  configuredModel: string | null;
  modelsSeen: string[];
  calls: number;
  meanPromptTokens: number | null;
  meanCompletionTokens: number | null;
  meanTotalTokens: number | null;
  meanLatencyMs: number | null;
}

export interface AgentTable {
  rows: AgentRow[];
  messages: number;
  meanTotalPerMessage: number | null;
  budget: number;
}

/** One row per agent seen in the messages (skipped calls left out), means rounded to 0.1. */
export function perAgentTable(health: Health, usages: readonly MessageUsage[]): AgentTable {
  const agents = [...new Set(usages.flatMap((u) => u.agents.map((a) => a.agent)))];
  const rows = agents.map((agent): AgentRow => {
    const calls = callsOf(usages, agent).filter((a) => a.status !== 'skipped');
    const m = (f: (a: AgentUsage) => number) => {
      const v = avg(calls.map(f));
      return v === undefined ? null : round(v, 1);
    };
    return {
      agent,
      configuredModel: health.models[agent] ?? null,
      modelsSeen: [...new Set(calls.map((a) => a.model ?? '(none)'))],
      calls: calls.length,
      meanPromptTokens: m((a) => a.promptTokens),
      meanCompletionTokens: m((a) => a.completionTokens),
      meanTotalTokens: m((a) => a.totalTokens),
      meanLatencyMs: m((a) => a.latencyMs),
    };
  });
  const total = avg(usages.map((u) => u.totalTokens));
  return {
    rows,
    messages: usages.length,
    meanTotalPerMessage: total === undefined ? null : round(total, 1),
    budget: health.tokenBudget,
  };
}

/** The table in one line: messages, tokens per message against the budget, tokens per call of each agent. */
export function perAgentSummary(t: AgentTable): string {
  const parts = t.rows.map((r) => `${r.agent} (${r.modelsSeen.join('/')}): ${r.meanTotalTokens ?? 'n/a'} tok/call`);
  const perMessage = t.meanTotalPerMessage ?? 'n/a';
  return `${t.messages} messages, ${perMessage} tokens/message (budget ${t.budget}); ${parts.join('; ')}`;
}
