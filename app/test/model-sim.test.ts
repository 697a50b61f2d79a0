/**
 * Model simulator: token counts match the real tokenizer, the `openai` SDK works against it
 * unchanged (plain, streamed with usage, embeddings, models), faults surface as the SDK errors a
 * client sees from OpenAI, and the realistic profile's time to first token stays in its bounds.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { getEncoding, type Tiktoken } from 'js-tiktoken';
import OpenAI, { APIConnectionTimeoutError, APIError, BadRequestError } from 'openai';
import { startModelSimulator, type ModelSimulator } from '../model-sim/index';
import { spawnModelSimulator } from '../model-sim/spawn';

const API_KEY = 'sk-sim-test';
const PROMPT = [
  { role: 'system' as const, content: 'You are MemoryChat, a helpful assistant that remembers the user.' },
  { role: 'user' as const, content: 'I live in Lisbon and my cat is called Miso. Which plants are safe for cats?' },
  { role: 'assistant' as const, content: 'Spider plants and Boston ferns are safe choices.' },
  { role: 'user' as const, content: 'Great — what about orchids? 🌸 Ça va?' },
];

/** OpenAI's documented chat counting: 3 per message + role + content (+ name + 1), + 3 reply primer. */
function expectedPromptTokens(
  encoder: Tiktoken,
  messages: ReadonlyArray<{ role: string; content: string; name?: string }>,
): number {
  let total = 3;
  for (const m of messages) {
    total += 3 + encoder.encode(m.role).length + encoder.encode(m.content).length;
    if (m.name !== undefined) total += encoder.encode(m.name).length + 1;
  }
  return total;
}

let instant: ModelSimulator;
let realistic: ModelSimulator;
let o200k: Tiktoken;
let cl100k: Tiktoken;

function client(sim: ModelSimulator, extra: Partial<ConstructorParameters<typeof OpenAI>[0]> = {}): OpenAI {
  return new OpenAI({ baseURL: sim.url, apiKey: API_KEY, maxRetries: 0, timeout: 10_000, ...extra });
}

before(async () => {
  [instant, realistic] = await Promise.all([
    startModelSimulator({ latency: 'instant', seed: 7 }),
    startModelSimulator({ latency: 'realistic', seed: 7, warmTokenizers: false }),
  ]);
  o200k = getEncoding('o200k_base');
  cl100k = getEncoding('cl100k_base');
  await instant.tokenizersReady;
});

after(async () => {
  await Promise.all([instant.close(), realistic.close()]);
});

void describe('token counts', { timeout: 20_000 }, () => {
  void test('chat usage equals js-tiktoken counts (o200k_base for gpt-4o-mini)', async () => {
    const res = await client(instant).chat.completions.create({ model: 'gpt-4o-mini', messages: PROMPT });
    const text = res.choices[0]?.message.content ?? '';
    assert.equal(res.usage?.prompt_tokens, expectedPromptTokens(o200k, PROMPT));
    assert.equal(res.usage?.completion_tokens, o200k.encode(text).length);
    assert.equal(res.usage?.total_tokens, (res.usage?.prompt_tokens ?? 0) + (res.usage?.completion_tokens ?? 0));
  });

  void test('cl100k_base for gpt-4 / gpt-3.5, names cost one extra token', async () => {
    const messages = [...PROMPT, { role: 'user' as const, content: 'And cacti?', name: 'ana' }];
    const res = await client(instant).chat.completions.create({ model: 'gpt-3.5-turbo', messages });
    assert.equal(res.usage?.prompt_tokens, expectedPromptTokens(cl100k, messages));
    assert.equal(res.usage?.completion_tokens, cl100k.encode(res.choices[0]?.message.content ?? '').length);
    // The two encodings really differ on this prompt, so the test can tell them apart.
    assert.notEqual(expectedPromptTokens(cl100k, PROMPT), expectedPromptTokens(o200k, PROMPT));
  });

  void test('embedding usage equals cl100k_base counts', async () => {
    const input = ['I live in Lisbon.', 'My cat is called Miso and she likes orchids.'];
    const res = await client(instant).embeddings.create({ model: 'text-embedding-3-small', input });
    assert.equal(
      res.usage.prompt_tokens,
      input.reduce((n, s) => n + cl100k.encode(s).length, 0),
    );
  });
});

void describe('openai SDK against the simulator', { timeout: 20_000 }, () => {
  void test('non-streamed: plausible, deterministic, uses the user’s words, 60–120 tokens by default', async () => {
    const sdk = client(instant);
    const a = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: PROMPT });
    const b = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: PROMPT });
    const text = a.choices[0]?.message.content ?? '';
    assert.equal(a.object, 'chat.completion');
    assert.equal(a.choices[0]?.finish_reason, 'stop');
    assert.equal(text, b.choices[0]?.message.content, 'same seed + prompt → same text');
    assert.match(text, /orchids/i);
    assert.ok(
      (a.usage?.completion_tokens ?? 0) >= 60 && (a.usage?.completion_tokens ?? 0) <= 150,
      `length ${a.usage?.completion_tokens}`,
    );
  });

  void test('streamed with include_usage: chunks join to the same text, usage in the final chunk', async () => {
    const sdk = client(instant);
    const plain = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: PROMPT });
    const stream = await sdk.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: PROMPT,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let chunks = 0;
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? '';
      finish ??= chunk.choices[0]?.finish_reason;
      if (chunk.usage) {
        assert.deepEqual(chunk.choices, [], 'the usage chunk has no choices, like OpenAI');
        usage = chunk.usage;
      }
    }
    assert.equal(text, plain.choices[0]?.message.content);
    assert.equal(finish, 'stop');
    assert.ok(chunks > 20, `one chunk per token or so, got ${chunks}`);
    assert.deepEqual(
      { p: usage?.prompt_tokens, c: usage?.completion_tokens },
      { p: plain.usage?.prompt_tokens, c: plain.usage?.completion_tokens },
    );
  });

  void test('streamed without include_usage: no usage anywhere', async () => {
    const stream = await client(instant).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: PROMPT,
      stream: true,
    });
    for await (const chunk of stream) assert.equal(chunk.usage, undefined);
  });

  void test('max_tokens bounds the completion (finish_reason length)', async () => {
    const res = await client(instant).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: PROMPT,
      max_completion_tokens: 7,
    });
    assert.equal(res.usage?.completion_tokens, 7);
    assert.equal(res.choices[0]?.finish_reason, 'length');
  });

  void test('json_object: valid JSON with the first-person facts of the last user message', async () => {
    const res = await client(instant).chat.completions.create({
      model: 'gpt-4.1-nano',
      response_format: { type: 'json_object' },
      messages: [
        { role: 'system', content: 'Extract durable facts about the user. Answer as JSON {"memories": string[]}.' },
        {
          role: 'user',
          content:
            'Hi there. I live in Zürich. My dog is called Rex! What is the weather like? I’m allergic to peanuts.',
        },
      ],
    });
    const parsed = JSON.parse(res.choices[0]?.message.content ?? '') as { memories: string[] };
    assert.deepEqual(parsed.memories, ['I live in Zürich', 'My dog is called Rex', 'I’m allergic to peanuts']);
  });

  void test('embeddings: unit vectors, deterministic, similar texts closer, SDK base64 decoding works', async () => {
    const sdk = client(instant);
    const input = ['my cat Miso likes orchids', 'my cat Miso likes ferns', 'quarterly tax filing deadline'];
    const a = await sdk.embeddings.create({ model: 'text-embedding-3-small', input });
    const b = await sdk.embeddings.create({ model: 'text-embedding-3-small', input, encoding_format: 'float' });
    const vectors = a.data.map((d) => d.embedding);
    assert.equal(vectors.length, 3);
    assert.equal(vectors[0]?.length, 1536);
    const dot = (x: number[] = [], y: number[] = []): number => x.reduce((s, v, i) => s + v * (y[i] ?? 0), 0);
    assert.ok(Math.abs(dot(vectors[0], vectors[0]) - 1) < 1e-4);
    assert.ok(dot(vectors[0], vectors[1]) > dot(vectors[0], vectors[2]) + 0.2);
    b.data[0]?.embedding.slice(0, 10).forEach((v, i) => assert.ok(Math.abs(v - (vectors[0]?.[i] ?? NaN)) < 1e-6));
    const small = await sdk.embeddings.create({ model: 'text-embedding-3-large', input: 'x', dimensions: 256 });
    assert.equal(small.data[0]?.embedding.length, 256);
  });

  void test('models list and retrieve', async () => {
    const sdk = client(instant);
    const ids = (await sdk.models.list()).data.map((m) => m.id);
    for (const id of ['gpt-4o-mini', 'gpt-4.1-nano', 'text-embedding-3-small']) assert.ok(ids.includes(id), id);
    assert.equal((await sdk.models.retrieve('gpt-4o-mini')).id, 'gpt-4o-mini');
  });
});

void describe('validation like OpenAI', { timeout: 20_000 }, () => {
  void test('401 without Authorization', async () => {
    const res = await fetch(`${instant.url}/models`);
    assert.equal(res.status, 401);
    const body = (await res.json()) as { error: { type: string; message: string } };
    assert.equal(body.error.type, 'invalid_request_error');
    assert.match(body.error.message, /API key/);
  });

  void test('400: malformed JSON, no messages, bad role, json_object without "json", unknown argument', async () => {
    const post = (body: string): Promise<Response> =>
      fetch(`${instant.url}/chat/completions`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' },
        body,
      });
    const malformed = await post('{"model": ');
    assert.equal(malformed.status, 400);
    assert.match(
      ((await malformed.json()) as { error: { message: string } }).error.message,
      /could not parse the JSON body/,
    );

    const sdk = client(instant);
    const cases: Array<[unknown, RegExp, string | null]> = [
      [{ model: 'gpt-4o-mini' }, /Missing required parameter: 'messages'/, 'messages'],
      [{ model: 'gpt-4o-mini', messages: [] }, /empty array/, 'messages'],
      [
        { model: 'gpt-4o-mini', messages: [{ role: 'robot', content: 'x' }] },
        /Invalid value: 'robot'/,
        'messages[0].role',
      ],
      [
        {
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'hi' }],
          response_format: { type: 'json_object' },
        },
        /must contain the word 'json'/,
        'messages',
      ],
      [
        { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], temprature: 1 },
        /Unrecognized request argument supplied: temprature/,
        null,
      ],
      [
        {
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'hi' }],
          stream_options: { include_usage: true },
        },
        /only allowed when 'stream' is enabled/,
        'stream_options',
      ],
    ];
    for (const [body, message, param] of cases) {
      await assert.rejects(
        sdk.chat.completions.create(body as OpenAI.ChatCompletionCreateParamsNonStreaming),
        (error: unknown) => error instanceof BadRequestError && message.test(error.message) && error.param === param,
        `expected 400 ${String(message)}`,
      );
    }
  });

  void test('404 model_not_found for an unknown model', async () => {
    await assert.rejects(
      client(instant).chat.completions.create({ model: 'llama-9000', messages: PROMPT }),
      (error: unknown) => error instanceof APIError && error.status === 404 && error.code === 'model_not_found',
    );
  });

  void test('400 for an invalid x-sim-* header value', async () => {
    await assert.rejects(
      client(instant).chat.completions.create(
        { model: 'gpt-4o-mini', messages: PROMPT },
        { headers: { 'x-sim-fault': 'meteor' } },
      ),
      (error: unknown) => error instanceof BadRequestError && /x-sim-fault/.test(error.message),
    );
    await assert.rejects(
      client(instant).chat.completions.create(
        { model: 'gpt-4o-mini', messages: PROMPT },
        { headers: { 'x-sim-ttft-ms': '-5' } },
      ),
      (error: unknown) => error instanceof BadRequestError && /x-sim-ttft-ms/.test(error.message),
    );
    await assert.rejects(
      client(instant).chat.completions.create(
        { model: 'gpt-4o-mini', messages: PROMPT },
        { headers: { 'x-sim-fault-rate': '1.5' } },
      ),
      (error: unknown) => error instanceof BadRequestError && /x-sim-fault-rate.*from 0 to 1/.test(error.message),
    );
  });
});

void describe('faults', { timeout: 20_000 }, () => {
  void test('x-sim-fault: 5xx → APIError 503 with an OpenAI-style body', async () => {
    await assert.rejects(
      client(instant).chat.completions.create(
        { model: 'gpt-4o-mini', messages: PROMPT },
        { headers: { 'x-sim-fault': '5xx' } },
      ),
      (error: unknown) => error instanceof APIError && error.status === 503 && error.type === 'server_error',
    );
  });

  void test('x-sim-fault: timeout → the SDK’s own timeout fires (APIConnectionTimeoutError)', async () => {
    const started = performance.now();
    await assert.rejects(
      client(instant, { timeout: 300 }).chat.completions.create(
        { model: 'gpt-4o-mini', messages: PROMPT },
        { headers: { 'x-sim-fault': 'timeout' } },
      ),
      (error: unknown) => error instanceof APIConnectionTimeoutError,
    );
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 290 && elapsed < 3000, `timed out after ${elapsed.toFixed(0)} ms`);
  });

  void test('x-sim-fault: cut-stream → the stream errors after a few chunks', async () => {
    const stream = await client(instant).chat.completions.create(
      { model: 'gpt-4o-mini', messages: PROMPT, stream: true },
      { headers: { 'x-sim-fault': 'cut-stream' } },
    );
    let chunks = 0;
    await assert.rejects(async () => {
      for await (const _chunk of stream) chunks++;
    });
    assert.ok(chunks >= 1 && chunks <= 5, `chunks before the cut: ${chunks}`);
  });

  void test('x-sim-fault: cut-stream on a non-streamed call → connection error', async () => {
    await assert.rejects(
      client(instant).chat.completions.create(
        { model: 'gpt-4o-mini', messages: PROMPT },
        { headers: { 'x-sim-fault': 'cut-stream' } },
      ),
      (error: unknown) => error instanceof Error,
    );
  });

  void test('x-sim-fault-rate: 0.3 fails roughly that share (seeded), the rest succeed', async () => {
    const sdk = client(instant);
    const results = await Promise.allSettled(
      Array.from({ length: 60 }, () =>
        sdk.chat.completions.create(
          { model: 'gpt-4o-mini', messages: PROMPT, max_completion_tokens: 5 },
          { headers: { 'x-sim-fault-rate': '0.3' } },
        ),
      ),
    );
    const failed = results.filter((r) => r.status === 'rejected');
    assert.ok(failed.length >= 8 && failed.length <= 30, `failed ${failed.length}/60`);
    for (const r of failed) assert.ok(r.reason instanceof APIError && r.reason.status === 503);
  });
});

void describe('latency', { timeout: 20_000 }, () => {
  void test('realistic profile: TTFT 250–450 ms and 70–100 tok/s (with scheduling slack), streamed', async () => {
    await realistic.tokenizersReady;
    const sdk = client(realistic);
    await sdk.models.list(); // keep-alive connection warm-up
    const samples: Array<{ ttft: number; rate: number }> = [];
    await Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        const started = performance.now();
        const stream = await sdk.chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [...PROMPT, { role: 'user', content: `Question number ${i}` }],
          stream: true,
          max_completion_tokens: 40,
        });
        let first = 0;
        let last = 0;
        let tokens = 0;
        for await (const chunk of stream) {
          if (!chunk.choices[0]?.delta.content) continue;
          last = performance.now() - started;
          first ||= last;
          tokens++;
        }
        samples.push({ ttft: first, rate: (tokens - 1) / ((last - first) / 1000) });
      }),
    );
    for (const { ttft, rate } of samples) {
      assert.ok(ttft >= 245 && ttft <= 450 + 200, `TTFT ${ttft.toFixed(0)} ms`);
      assert.ok(rate >= 55 && rate <= 110, `rate ${rate.toFixed(1)} tok/s`);
    }
    process.stdout.write(
      `# realistic: ${samples.map((s) => `TTFT ${s.ttft.toFixed(0)} ms, ${s.rate.toFixed(0)} tok/s`).join('; ')}\n`,
    );
  });

  void test('deterministic: the same request gets the same text, tokens and latency, in any order', async () => {
    // A second simulator with the same seed, asked in the opposite order after unrelated requests:
    // an A/B comparison's two arms must see the same model for the same request.
    const other = await startModelSimulator({ latency: 'realistic', seed: 7, warmTokenizers: false });
    try {
      const questions = ['What is a good cello warm-up?', 'Suggest a quick dinner.', 'How do I calm a dog?'];
      const ask = async (sim: ModelSimulator, q: string) => {
        const res = await client(sim)
          .chat.completions.create({
            model: 'gpt-4o-mini',
            messages: [...PROMPT, { role: 'user', content: q }],
            max_completion_tokens: 2,
          })
          .withResponse();
        return {
          text: res.data.choices[0]?.message.content,
          tokens: res.data.usage?.completion_tokens,
          ttft: res.response.headers.get('x-sim-ttft-ms'),
        };
      };
      const first = [];
      for (const q of questions) first.push(await ask(realistic, q));
      await ask(other, 'an unrelated request that shifts any request counter');
      const second = [];
      for (const q of [...questions].reverse()) second.unshift(await ask(other, q));
      assert.deepEqual(second, first);
      assert.ok(new Set(first.map((r) => r.ttft)).size > 1, 'different requests still get different latencies');
    } finally {
      await other.close();
    }
  });

  void test('x-sim-latency overrides the default profile per request', async () => {
    const started = performance.now();
    await client(realistic).chat.completions.create(
      { model: 'gpt-4o-mini', messages: PROMPT },
      { headers: { 'x-sim-latency': 'instant' } },
    );
    assert.ok(performance.now() - started < 200);
    const slowStart = performance.now();
    await client(instant).chat.completions.create(
      { model: 'gpt-4o-mini', messages: PROMPT, max_completion_tokens: 3 },
      { headers: { 'x-sim-latency': 'realistic' } },
    );
    assert.ok(performance.now() - slowStart >= 245, 'a non-streamed reply waits TTFT + tokens / rate');
  });

  void test('PUT /v1/sim/latency switches the default profile; bad values answer 400', async () => {
    const sim = await startModelSimulator({ latency: 'realistic', seed: 7, warmTokenizers: false });
    const call = (method: string, body?: unknown) =>
      fetch(`${sim.url}/sim/latency`, {
        method,
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    try {
      assert.deepEqual(await (await call('GET')).json(), { latency: 'realistic' });
      assert.deepEqual(await (await call('PUT', { latency: 'instant' })).json(), {
        latency: 'instant',
        previous: 'realistic',
      });
      const started = performance.now();
      await client(sim).chat.completions.create({ model: 'gpt-4o-mini', messages: PROMPT });
      assert.ok(performance.now() - started < 200, 'a request without x-sim-latency gets the new default');
      const bad = await call('PUT', { latency: 'fast' });
      assert.equal(bad.status, 400);
      assert.match(((await bad.json()) as { error: { message: string } }).error.message, /instant, realistic, slow/);
      assert.deepEqual(await (await call('GET')).json(), { latency: 'instant' }, 'a bad PUT changes nothing');
    } finally {
      await sim.close();
    }
  });

  void test('x-sim-ttft-ms sets the first token; the profile still streams the rest', async () => {
    const started = performance.now();
    const stream = await client(instant).chat.completions.create(
      { model: 'gpt-4o-mini', messages: PROMPT, stream: true },
      { headers: { 'x-sim-ttft-ms': '300' } },
    );
    let firstMs: number | undefined;
    for await (const chunk of stream) {
      if (firstMs === undefined && chunk.choices[0]?.delta.content) firstMs = performance.now() - started;
    }
    const totalMs = performance.now() - started;
    assert.ok(firstMs !== undefined && firstMs >= 295, `first token after ${String(firstMs)} ms, expected ≥ 300`);
    assert.ok(totalMs - firstMs < 150, `the instant profile streams the rest at once (${totalMs - firstMs} ms)`);
  });

  void test('close() ends held requests promptly', async () => {
    const sim = await startModelSimulator({ latency: 'slow', warmTokenizers: false });
    const pending = client(sim, { timeout: 30_000 })
      .chat.completions.create({ model: 'gpt-4o-mini', messages: PROMPT }, { headers: { 'x-sim-fault': 'timeout' } })
      .catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = performance.now();
    await sim.close();
    assert.ok(performance.now() - started < 1000);
    assert.ok((await pending) instanceof Error);
  });

  void test('spawnModelSimulator runs it in its own process and stops it', async () => {
    const sim = await spawnModelSimulator({ latency: 'instant' });
    try {
      const res = await new OpenAI({
        baseURL: sim.url,
        apiKey: API_KEY,
        maxRetries: 0,
        timeout: 10_000,
      }).chat.completions.create({ model: 'gpt-4o-mini', messages: PROMPT });
      assert.equal(res.usage?.prompt_tokens, expectedPromptTokens(o200k, PROMPT));
    } finally {
      await sim.close();
    }
    assert.throws(() => process.kill(sim.pid, 0), 'the child process is gone');
  });
});
