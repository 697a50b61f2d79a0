/**
 * The reference app honours app/contract.ts: every endpoint's happy path, Server-Timing, the SSE
 * event order, per-agent usage with the configured models, the token budget on a long session with
 * 10,000 memories, and the faults that change what the API reports (token-bloat, n-plus-one).
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type {
  BulkCreateMemoriesResponse,
  ChatStreamEvent,
  Health,
  MemoriesPage,
  Memory,
  MessagesPage,
  MessageUsage,
  PostMessageResponse,
  Profile,
  SearchResponse,
  Session,
  SessionsPage,
  User,
} from '../../contract';
import { EVENT_LOOP_PATH, parseEventLoopReport, parseServerTiming, SCHEMA_VERSION } from '../../contract';
import { latestSchemaVersion } from '../db/migrate';
import { Client, startTestStack, useTestStack, withSql } from './api-support';

const shared = useTestStack();

function eventsOf<E extends ChatStreamEvent['event']>(
  events: ChatStreamEvent[],
  name: E,
): Extract<ChatStreamEvent, { event: E }>[] {
  return events.filter((e): e is Extract<ChatStreamEvent, { event: E }> => e.event === name);
}

void describe('API contract', () => {
  void test('health reports schema version, models, budget and faults, with Server-Timing', async () => {
    const r = await shared.anon.get<Health>('/api/health');
    assert.equal(r.status, 200);
    assert.equal(r.body.status, 'ok');
    // The migrations end where the contract says: the suite checks targets against SCHEMA_VERSION.
    assert.equal(latestSchemaVersion(), SCHEMA_VERSION);
    assert.equal(r.body.schemaVersion, SCHEMA_VERSION);
    assert.deepEqual(r.body.models, {
      conversation: 'gpt-4o-mini',
      memory_extractor: 'gpt-4.1-nano',
      summarizer: 'gpt-4.1-nano',
    });
    assert.equal(r.body.tokenBudget, 5000);
    assert.deepEqual(r.body.faults, []);
    const timing = parseServerTiming(r.headers.get('server-timing'));
    assert.ok(
      timing.db !== undefined && timing.model !== undefined && timing.total !== undefined,
      `Server-Timing: ${r.headers.get('server-timing')}`,
    );
  });

  void test('users, me and profiles', async () => {
    const u = await shared.anon.newUser('contract');
    assert.ok(u.token.length >= 20);
    assert.equal(u.profile.userId, u.user.id);
    const me = await u.api.get<User>('/api/me');
    assert.equal(me.status, 200);
    assert.deepEqual(me.body, u.user);
    const p = await u.api.post<Profile>('/api/profiles', { name: 'Work' });
    assert.equal(p.status, 201);
    const list = await u.api.get<{ profiles: Profile[] }>('/api/profiles');
    assert.deepEqual(
      list.body.profiles.map((x) => x.name),
      ['Default', 'Work'],
    );
    assert.ok(parseServerTiming(p.headers.get('server-timing')).total !== undefined);
  });

  void test('sessions: create, get, list newest first with a cursor', async () => {
    const u = await shared.anon.newUser('sessions');
    const created: Session[] = [];
    for (const title of ['one', 'two', 'three']) {
      const r = await u.api.post<Session>('/api/sessions', { title, profileId: u.profile.id });
      assert.equal(r.status, 201);
      assert.ok(parseServerTiming(r.headers.get('server-timing')).db !== undefined);
      created.push(r.body);
    }
    assert.equal(created[0]?.profileId, u.profile.id);
    const untitled = await u.api.post<Session>('/api/sessions');
    assert.equal(untitled.status, 201);
    assert.equal(untitled.body.profileId, null);
    const got = await u.api.get<Session>(`/api/sessions/${created[1]?.id}`);
    assert.deepEqual(got.body, created[1]);
    const p1 = await u.api.get<SessionsPage>('/api/sessions?limit=2');
    assert.deepEqual(
      p1.body.sessions.map((s) => s.title),
      ['New chat', 'three'],
    );
    assert.ok(p1.body.nextCursor);
    const p2 = await u.api.get<SessionsPage>(`/api/sessions?limit=2&before=${p1.body.nextCursor}`);
    assert.deepEqual(
      p2.body.sessions.map((s) => s.title),
      ['two', 'one'],
    );
    assert.equal(p2.body.nextCursor, null);
  });

  void test('memories: create, bulk, list newest first, ranked, fuzzy and auto search', async () => {
    const u = await shared.anon.newUser('memories');
    const one = await u.api.post<Memory>('/api/memories', {
      content: 'My sister Ana lives in Porto',
      importance: 0.9,
      profileId: u.profile.id,
    });
    assert.equal(one.status, 201);
    assert.equal(one.body.importance, 0.9);
    const bulk = await u.api.post<BulkCreateMemoriesResponse>('/api/memories/bulk', {
      memories: [
        { content: 'I play the cello on Sundays' },
        { content: 'My favourite food is grilled sardines' },
        { content: 'I am allergic to peanuts', importance: 1 },
      ],
    });
    assert.equal(bulk.status, 201);
    assert.equal(bulk.body.created, 3);
    assert.equal(bulk.body.ids.length, 3);
    const list = await u.api.get<MemoriesPage>('/api/memories?limit=2');
    assert.deepEqual(
      list.body.memories.map((m) => m.content),
      ['I am allergic to peanuts', 'My favourite food is grilled sardines'],
    );
    const rest = await u.api.get<MemoriesPage>(`/api/memories?limit=10&before=${list.body.nextCursor}`);
    assert.equal(rest.body.memories.length, 2);
    const byProfile = await u.api.get<MemoriesPage>(`/api/memories?profileId=${u.profile.id}`);
    assert.deepEqual(
      byProfile.body.memories.map((m) => m.id),
      [one.body.id],
    );

    const ranked = await u.api.get<SearchResponse>(
      '/api/memories/search?q=' + encodeURIComponent('where does my sister live?') + '&mode=ranked',
    );
    assert.equal(ranked.body.mode, 'ranked');
    assert.equal(ranked.body.results[0]?.memory.id, one.body.id);
    assert.ok((ranked.body.results[0]?.score ?? 0) > 0);
    const fuzzy = await u.api.get<SearchResponse>('/api/memories/search?q=sardnes&mode=fuzzy');
    assert.equal(fuzzy.body.mode, 'fuzzy');
    assert.match(fuzzy.body.results[0]?.memory.content ?? '', /sardines/);
    const auto = await u.api.get<SearchResponse>('/api/memories/search?q=alergic%20peanut');
    assert.equal(auto.body.mode, 'fuzzy', 'auto falls back to fuzzy when ranked finds too little');
    assert.match(auto.body.results[0]?.memory.content ?? '', /peanuts/);
  });

  void test('streamed chat: meta → token* → done, usage per agent with models, timing', async () => {
    const u = await shared.anon.newUser('chat');
    const s = (await u.api.post<Session>('/api/sessions', { title: 'chat' })).body;
    const r = await u.api.stream(s.id, 'I live in Lisbon and my dog is called Rex. What should I do this weekend?');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /text\/event-stream/);
    const names = r.events.map((e) => e.event);
    assert.equal(names[0], 'meta');
    assert.equal(names[names.length - 1], 'done');
    assert.ok(names.slice(1, -1).length > 0 && names.slice(1, -1).every((n) => n === 'token'), names.join(','));
    const meta = eventsOf(r.events, 'meta')[0]!.data;
    const done = eventsOf(r.events, 'done')[0]!.data;
    const text = eventsOf(r.events, 'token')
      .map((t) => t.data.delta)
      .join('');
    assert.equal(done.message.content, text);
    assert.equal(done.message.id, meta.assistantMessageId);
    assert.equal(done.message.status, 'complete');
    assert.equal(done.message.model, 'gpt-4o-mini');
    const agents = Object.fromEntries(done.usage.agents.map((a) => [a.agent, a]));
    assert.equal(agents.memory_retriever?.model, null);
    assert.equal(agents.conversation?.model, 'gpt-4o-mini');
    assert.equal(agents.memory_extractor?.model, 'gpt-4.1-nano');
    assert.equal(agents.summarizer?.status, 'skipped');
    assert.ok((agents.conversation?.promptTokens ?? 0) > 0 && (agents.conversation?.completionTokens ?? 0) > 0);
    assert.equal(
      done.usage.totalTokens,
      done.usage.agents.reduce((n, a) => n + a.totalTokens, 0),
    );
    assert.ok(done.usage.totalTokens <= done.usage.budget);
    for (const key of ['dbMs', 'modelMs', 'totalMs', 'ttftMs', 'dbQueries'] as const)
      assert.equal(typeof done.timing[key], 'number', key);
    assert.ok(done.timing.totalMs >= done.timing.modelMs);
    assert.ok(
      (done.timing.dbQueries ?? 0) >= 5 && (done.timing.dbQueries ?? 0) <= 15,
      `dbQueries ${done.timing.dbQueries}`,
    );

    const usage = await u.api.get<MessageUsage>(`/api/messages/${meta.assistantMessageId}/usage`);
    assert.equal(usage.status, 200);
    assert.deepEqual(usage.body, done.usage);
    const msgs = await u.api.get<MessagesPage>(`/api/sessions/${s.id}/messages`);
    assert.deepEqual(
      msgs.body.messages.map((m) => [m.id, m.role]),
      [
        [meta.assistantMessageId, 'assistant'],
        [meta.userMessageId, 'user'],
      ],
    );
    // The extractor stored the user's facts, linked to the message.
    const mems = await u.api.get<MemoriesPage>('/api/memories');
    assert.ok(
      mems.body.memories.some((m) => /Lisbon|Rex/.test(m.content)),
      JSON.stringify(mems.body.memories),
    );
  });

  void test('non-streamed chat answers 201 with Server-Timing and timing', async () => {
    const u = await shared.anon.newUser('plain');
    const s = (await u.api.post<Session>('/api/sessions')).body;
    const r = await u.api.post<PostMessageResponse>(`/api/sessions/${s.id}/messages`, {
      content: 'hello there',
      stream: false,
    });
    assert.equal(r.status, 201);
    assert.equal(r.body.userMessage.content, 'hello there');
    assert.equal(r.body.assistantMessage.status, 'complete');
    const st = parseServerTiming(r.headers.get('server-timing'));
    assert.ok(st.model !== undefined && st.model > 0 && st.db !== undefined && st.total !== undefined);
    assert.equal(typeof r.body.timing.dbQueries, 'number');
  });

  void test('event-loop probe: the app and the simulator, each read starting a new window', async () => {
    await shared.anon.get(EVENT_LOOP_PATH); // ends the window that began at start-up
    await new Promise((resolve) => setTimeout(resolve, 150));
    const r = await shared.anon.get(EVENT_LOOP_PATH);
    assert.equal(r.status, 200);
    const report = parseEventLoopReport(r.body);
    assert.ok(typeof report !== 'string', `not an EventLoopReport: ${JSON.stringify(report)}`);
    // The window is the time since the previous read, not since start-up.
    assert.ok(report.app.windowMs >= 140 && report.app.windowMs < 10_000, `app window ${report.app.windowMs} ms`);
    assert.ok(report.app.samples > 0, 'the probe timer fired in the window');
    assert.ok(report.modelSimulator !== null, 'the bundled simulator reports its own loop');
    assert.ok(report.modelSimulator.samples > 0);
  });
});

void describe('token budget on a long session with 10,000 memories', () => {
  let user: Awaited<ReturnType<Client['newUser']>>;
  let sessionId: number;

  void before(async () => {
    user = await shared.anon.newUser('budget');
    sessionId = (await user.api.post<Session>('/api/sessions', { title: 'long' })).body.id;
    await withSql(shared.stack.databaseUrl, async (sql) => {
      await sql.query(
        `INSERT INTO memories (user_id, profile_id, content)
         SELECT $1, $2, 'Memory ' || g || ': I enjoy '
           || (ARRAY['hiking','cooking','jazz','chess','sailing'])[1 + g % 5]
           || ' in ' || (ARRAY['Berlin','Lisbon','Oslo','Rome'])[1 + g % 4]
           || ' with my friend number ' || g || ' most weekends'
         FROM generate_series(1, 10000) g`,
        [user.user.id, user.profile.id],
      );
      await sql.query(
        `INSERT INTO messages (session_id, user_id, role, content)
         SELECT $1, $2, CASE WHEN g % 2 = 1 THEN 'user' ELSE 'assistant' END,
           'Message ' || g || ': ' || repeat('we talked about travel plans, recipes and the weather in spring. ', 6)
         FROM generate_series(1, 500) g`,
        [sessionId, user.user.id],
      );
    });
  });

  void test('500 messages and 10k memories: within 5,000 tokens, summarizer on the small model', async () => {
    const r = await user.api.stream(sessionId, 'What do I enjoy doing in Lisbon with my friends?');
    const done = eventsOf(r.events, 'done')[0]?.data;
    assert.ok(done, JSON.stringify(r.events.filter((e) => e.event !== 'token')));
    assert.ok(done.usage.totalTokens <= 5000, `total ${done.usage.totalTokens}`);
    assert.ok(
      done.usage.memoriesInPrompt > 0 && done.usage.memoriesInPrompt <= 20,
      `memories ${done.usage.memoriesInPrompt}`,
    );
    assert.ok(done.usage.historyMessagesInPrompt > 0 && done.usage.historyMessagesInPrompt < 500);
    const summarizer = done.usage.agents.find((a) => a.agent === 'summarizer');
    assert.equal(summarizer?.status, 'ok');
    assert.equal(summarizer?.model, 'gpt-4.1-nano');
    // The next message reuses the fresh summary instead of summarising again.
    const next = eventsOf((await user.api.stream(sessionId, 'And in Oslo?')).events, 'done')[0]?.data;
    assert.ok(next && next.usage.totalTokens <= 5000);
    assert.equal(next.usage.agents.find((a) => a.agent === 'summarizer')?.status, 'skipped');
  });

  void test('token-bloat fault: the same message goes far over budget', async () => {
    // A fresh simulator first builds its tokenizer (≈ 1.2 s alone, more beside another test file)
    // and then counts a prompt of over 10,000 tokens: the 2 s model deadline of these tests, meant
    // for a warm stack, timed this first call out once. The assertions are unchanged.
    const bloated = await startTestStack({
      databaseUrl: shared.stack.databaseUrl,
      faults: ['token-bloat'],
      modelTimeoutMs: 15_000,
    });
    try {
      const r = await new Client(bloated.baseUrl, user.token).stream(
        sessionId,
        'What do I enjoy doing in Lisbon with my friends?',
      );
      const done = eventsOf(r.events, 'done')[0]?.data;
      assert.ok(done, JSON.stringify(r.events.filter((e) => e.event !== 'token')));
      assert.ok(done.usage.totalTokens > 10_000, `total ${done.usage.totalTokens}`);
    } finally {
      await bloated.stop();
    }
  });

  void test('n-plus-one fault: statements per message grow with the memory count', async () => {
    const slow = await startTestStack({ databaseUrl: shared.stack.databaseUrl, faults: ['n-plus-one'] });
    try {
      const small = await shared.anon.newUser('n1');
      const s = (await small.api.post<Session>('/api/sessions')).body;
      const r = await new Client(slow.baseUrl, small.token).stream(s.id, 'hello');
      const fewQueries = eventsOf(r.events, 'done')[0]?.data.timing.dbQueries ?? 0;
      const bigger = await shared.anon.newUser('n1-big');
      const bulk = await bigger.api.post('/api/memories/bulk', {
        memories: Array.from({ length: 1500 }, (_, i) => ({ content: `memory number ${i} about hello and goodbye` })),
      });
      assert.equal(bulk.status, 201);
      const s2 = (await bigger.api.post<Session>('/api/sessions')).body;
      const big = await new Client(slow.baseUrl, bigger.token).stream(s2.id, 'hello');
      const manyQueries = eventsOf(big.events, 'done')[0]?.data.timing.dbQueries ?? 0;
      assert.ok(manyQueries > fewQueries + 1000, `${fewQueries} → ${manyQueries}`);
    } finally {
      await slow.stop();
    }
  });
});

void describe('search relevance and the unranked-search fault', () => {
  // The user's name is in every memory; "corgi" in one. Rarity must decide, not the common word.
  const contents = [
    'Farah: we finally adopted a corgi puppy and named her Waffles.',
    'Farah: can we move the call to Tuesday?',
    'Farah: call me when you land.',
    'Farah: the call ran late again, sorry.',
  ];
  const ask = 'What did Farah call the corgi?';

  void test('ranked and fuzzy search put the memory with the rare term first', async () => {
    const u = await shared.anon.newUser('rarity');
    await u.api.post('/api/memories/bulk', { memories: contents.map((content) => ({ content })) });
    for (const mode of ['ranked', 'fuzzy'] as const) {
      const q = encodeURIComponent(ask);
      const r = await u.api.get<SearchResponse>(`/api/memories/search?q=${q}&mode=${mode}&limit=5`);
      const order = JSON.stringify(r.body.results.map((x) => x.memory.content));
      assert.match(r.body.results[0]?.memory.content ?? '', /corgi/, `${mode}: ${order}`);
      const scores = r.body.results.map((x) => x.score);
      assert.deepEqual(
        scores,
        [...scores].sort((a, b) => b - a),
        `${mode}: scores fall with the rank`,
      );
    }
  });

  void test('unranked-search fault: the same matches, newest first', async () => {
    const faulty = await startTestStack({ databaseUrl: shared.stack.databaseUrl, faults: ['unranked-search'] });
    try {
      const u = await shared.anon.newUser('unranked');
      const api = new Client(faulty.baseUrl, u.token);
      await api.post('/api/memories/bulk', { memories: contents.map((content) => ({ content })) });
      const r = await api.get<SearchResponse>(`/api/memories/search?q=${encodeURIComponent(ask)}&mode=ranked&limit=5`);
      const ids = r.body.results.map((x) => x.memory.id);
      assert.equal(ids.length, contents.length, 'the filter is unchanged: every memory matches');
      assert.deepEqual(
        ids,
        [...ids].sort((a, b) => b - a),
        'newest first',
      );
      assert.doesNotMatch(r.body.results[0]?.memory.content ?? '', /corgi/);
    } finally {
      await faulty.stop();
    }
  });
});

void describe('missing-indexes fault', () => {
  const STEP_74_INDEXES = [
    'idx_sessions_user_id',
    'idx_messages_session_id',
    'idx_memories_profile_id',
    'idx_agent_logs_session_id',
    'idx_memories_user_id',
    'idx_memories_created_at',
    'idx_messages_created_at',
  ];
  const indexNames = (): Promise<string[]> =>
    withSql(shared.stack.databaseUrl, async (sql) =>
      (await sql.query<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")).rows.map(
        (r) => r.indexname,
      ),
    );

  void test('drops the seven Step 7.4 indexes (schema version unchanged); a normal start restores them', async () => {
    for (const name of STEP_74_INDEXES) assert.ok((await indexNames()).includes(name), name);
    const faulty = await startTestStack({ databaseUrl: shared.stack.databaseUrl, faults: ['missing-indexes'] });
    try {
      const names = await indexNames();
      for (const name of STEP_74_INDEXES) assert.ok(!names.includes(name), `${name} should be gone`);
      const health = await new Client(faulty.baseUrl).get<Health>('/api/health');
      assert.equal(health.body.schemaVersion, latestSchemaVersion());
      assert.deepEqual(health.body.faults, ['missing-indexes']);
    } finally {
      await faulty.stop();
    }
    const healed = await startTestStack({ databaseUrl: shared.stack.databaseUrl });
    await healed.stop();
    for (const name of STEP_74_INDEXES) assert.ok((await indexNames()).includes(name), `${name} restored`);
  });
});

void describe('UI is served', () => {
  void test('GET / returns the chat page with its test ids', async () => {
    const r = await shared.anon.get<string>('/');
    assert.equal(r.status, 200);
    for (const id of [
      'session-list',
      'new-session-button',
      'message-list',
      'message-input',
      'send-button',
      'memory-panel',
      'memory-search-input',
      'memory-search-button',
      'error-banner',
    ]) {
      assert.ok(r.body.includes(`data-testid="${id}"`), id);
    }
    const js = await shared.anon.get<string>('/app.js');
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
  });
});
