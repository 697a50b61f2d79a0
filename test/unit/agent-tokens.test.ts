import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AgentUsage, Health, MessageUsage } from '../../contract';
import { agentTokens, callsOf, perAgentSummary, perAgentTable } from '../../lib/figures/agent-tokens';

const health: Health = {
  status: 'ok',
  app: 'memorychat',
  version: 'test',
  schemaVersion: 1,
  models: { conversation: 'gpt-4o-mini', memory_extractor: 'gpt-4.1-nano' },
  tokenBudget: 5000,
  faults: [],
};

function call(agent: AgentUsage['agent'], over: Partial<AgentUsage> = {}): AgentUsage {
  return {
    agent,
    model: 'gpt-4o-mini',
    promptTokens: 100,
    completionTokens: 20,
    totalTokens: 120,
    latencyMs: 50,
    status: 'ok',
    ...over,
  };
}

function message(agents: AgentUsage[], totalTokens: number): MessageUsage {
  return {
    messageId: 1,
    promptTokens: 0,
    completionTokens: 0,
    totalTokens,
    budget: 5000,
    agents,
    memoriesInPrompt: 3,
    historyMessagesInPrompt: 12,
  };
}

const usages = [
  message(
    [
      call('conversation', { promptTokens: 100, totalTokens: 120, latencyMs: 40 }),
      call('memory_extractor', { model: 'gpt-4.1-nano', totalTokens: 31 }),
    ],
    151,
  ),
  message(
    [
      call('conversation', { promptTokens: 201, totalTokens: 221, latencyMs: 61 }),
      call('memory_extractor', { model: null, status: 'skipped', totalTokens: 0 }),
    ],
    221,
  ),
];

void test('callsOf: every call of one agent, skipped ones included', () => {
  assert.equal(callsOf(usages, 'conversation').length, 2);
  assert.equal(callsOf(usages, 'memory_extractor').length, 2);
  assert.deepEqual(callsOf(usages, 'summarizer'), []);
});

void test('agentTokens: a message’s total, prompt contents and tokens by agent', () => {
  assert.deepEqual(agentTokens(usages[0]!), {
    total: 151,
    historyInPrompt: 12,
    memoriesInPrompt: 3,
    conversation: 120,
    memory_extractor: 31,
  });
});

void test('perAgentTable: means per agent without skipped calls, rounded to 0.1; the configured model', () => {
  const t = perAgentTable(health, usages);
  assert.equal(t.messages, 2);
  assert.equal(t.budget, 5000);
  assert.equal(t.meanTotalPerMessage, 186);
  const [conversation, extractor] = t.rows;
  assert.deepEqual(conversation, {
    agent: 'conversation',
    configuredModel: 'gpt-4o-mini',
    modelsSeen: ['gpt-4o-mini'],
    calls: 2,
    meanPromptTokens: 150.5,
    meanCompletionTokens: 20,
    meanTotalTokens: 170.5,
    meanLatencyMs: 50.5,
  });
  assert.equal(extractor?.calls, 1);
  assert.deepEqual(extractor?.modelsSeen, ['gpt-4.1-nano']);
  assert.equal(perAgentTable(health, []).meanTotalPerMessage, null);
});

void test('perAgentSummary: one line with tokens per message and per call', () => {
  assert.equal(
    perAgentSummary(perAgentTable(health, usages)),
    '2 messages, 186 tokens/message (budget 5000); conversation (gpt-4o-mini): 170.5 tok/call; ' +
      'memory_extractor (gpt-4.1-nano): 31 tok/call',
  );
});
