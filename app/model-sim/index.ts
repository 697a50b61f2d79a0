/**
 * OpenAI-compatible model simulator (node:http), used by the bundled MemoryChat stack when no
 * OPENAI_API_KEY is set. The `openai` npm SDK works against it unchanged.
 *
 * Endpoints (all under /v1, `Authorization: Bearer <anything>` required, else 401):
 *   POST /v1/chat/completions  stream true/false; `stream_options.include_usage` adds the final usage
 *                              chunk (choices: []) exactly like OpenAI; SSE `data: {...}\n\n` + `data: [DONE]`.
 *                              `response_format` json_object → `{"memories": ["I ...", "My ..."]}` with the
 *                              first-person facts of the last user message; json_schema → an instance of
 *                              the schema (a `memories` array property is filled with those facts).
 *   POST /v1/embeddings        deterministic unit vectors (float or base64), usage.
 *   GET  /v1/models[/<id>]     model list / one model.
 *   GET  /v1/sim/event-loop    this process's event-loop delay since the last read (contract/event-loop.ts).
 *   GET|PUT /v1/sim/latency    the default latency profile, read or switched (contract/model.ts).
 * Token counts come from OpenAI's tokenizers (gpt-tokenizer: o200k_base for the gpt-4o, gpt-4.1
 * and o-series families, cl100k_base otherwise);
 * chat prompt tokens = Σ(3 + role + content [+ name + 1]) + 3, as OpenAI counts them.
 *
 * Per-request control headers (never sent to real OpenAI):
 *   x-sim-latency: instant | realistic | slow
 *       Overrides the simulator's default latency profile for this request.
 *       instant = 0 ms; realistic ≈ gpt-4o-mini (TTFT 250–450 ms, 70–100 tok/s);
 *       slow = TTFT 5.5–6.5 s, 13–17 tok/s. Latency = TTFT + completion tokens / rate, with jitter
 *       drawn from the request's content and the seed: the same request gets the same text, tokens
 *       and latency in every run and on every simulator, whatever arrived before it (an A/B
 *       comparison then sees the same model time in both arms).
 *       Non-streamed responses wait the full time.
 *   x-sim-ttft-ms: <ms>
 *       Time to first token of a chat completion (0–600000), instead of the profile's draw; the
 *       stream's rate stays the profile's. The app's graded `slow-model` fault sends it.
 *   x-sim-fault: 5xx | timeout | cut-stream
 *       5xx        → 503 with an OpenAI-style `server_error` body.
 *       timeout    → accepts the request and never answers (until the client gives up; the
 *                    socket is dropped after TIMEOUT_FAULT_MAX_MS at the latest).
 *       cut-stream → sends a few chunks (or part of the JSON body) then destroys the socket.
 *   x-sim-fault-rate: 0..1
 *       Applies the fault (x-sim-fault, default 5xx) to that share of requests only, decided by
 *       the seeded PRNG (request order), e.g. `x-sim-fault-rate: 0.3`.
 * Invalid values of these headers answer 400 naming the header.
 *
 * Response headers: x-request-id, openai-processing-ms, x-sim-ttft-ms (planned time to first token).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { SIM_EVENT_LOOP_PATH, SIM_LATENCY_PATH } from '../../contract';
import { startEventLoopProbe } from '../server/event-loop';
import { buildCompletion, promptSeed, type Completion } from './completion';
import { embed } from './generate';
import {
  isLatencyProfile,
  LATENCY_PROFILES,
  planCompletion,
  planEmbeddingMs,
  type LatencyProfileName,
} from './latency';
import { createRng, hashString, mixSeeds, type Rng } from './random';
import { countChatPromptTokens, countTokens, encodingForModel, warmTokenizers } from './tokens';
import {
  CHAT_MODELS,
  EMBEDDING_MODELS,
  INVALID_JSON_MESSAGE,
  SimHttpError,
  assertKnownModel,
  assertWithinContext,
  parseChatRequest,
  parseEmbeddingRequest,
  type ChatRequest,
} from './validate';

export { LATENCY_PROFILES, type LatencyProfileName } from './latency';

export const SIM_FAULTS = ['5xx', 'timeout', 'cut-stream'] as const;
export type SimFault = (typeof SIM_FAULTS)[number];

export interface ModelSimulatorOptions {
  /** 0 (default) = a free port. A busy explicit port rejects with a clear error. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default latency profile (the stack passes MODEL_SIM_LATENCY). Default `realistic`. */
  latency?: LatencyProfileName;
  /** Seed for content and jitter. Default 42. */
  seed?: number;
  /**
   * Build tokenizers in the background right after listening: true (default) = both (~0.7 s of
   * CPU), a list of model names = only their encodings (the others are built on first use).
   */
  warmTokenizers?: boolean | readonly string[];
  /** Upper bound for the `timeout` fault before the socket is dropped. Default 120 000 ms. */
  timeoutFaultMaxMs?: number;
}

export interface ModelSimulator {
  /** Base URL for the `openai` SDK, e.g. http://127.0.0.1:1234/v1 */
  url: string;
  /** Resolves once the warmed tokenizers are built (immediately useful for tests and benchmarks). */
  tokenizersReady: Promise<void>;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 20 * 1024 * 1024;
const DEFAULT_TIMEOUT_FAULT_MAX_MS = 120_000;
/** Upper bound of x-sim-ttft-ms: ten minutes, longer than any client waits. */
const MAX_TTFT_HEADER_MS = 600_000;
/** Tokens a `cut-stream` fault delivers before dropping the connection. */
const CUT_AFTER_PIECES = 3;
const CUT_DELAY_MS = 25;
const SYSTEM_FINGERPRINT = 'fp_sim_memorychat';

/** Per-request timers, cleared when the response closes (client gone) or the simulator stops. */
class RequestScope {
  private readonly timers = new Set<NodeJS.Timeout>();
  closed = false;

  constructor(private readonly onError?: () => void) {}

  later(ms: number, fn: () => void): void {
    if (this.closed) return;
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        if (this.closed) return;
        try {
          fn();
        } catch (error) {
          // A bug must not take the process down nor leave the client hanging.
          process.stderr.write(`model-sim: ${error instanceof Error ? error.message : String(error)}\n`);
          this.onError?.();
        }
      },
      Math.max(0, ms),
    );
    this.timers.add(timer);
  }

  dispose(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new SimHttpError(413, `Request body too large: the limit is ${MAX_BODY_BYTES} bytes.`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A numeric x-sim-* header from 0 to `max`, or undefined when absent; anything else is a 400. */
function numericHeader(req: IncomingMessage, name: string, max: number, what: string): number | undefined {
  const raw = headerValue(req, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0 || value > max) {
    throw new SimHttpError(
      400,
      `Invalid ${name} header "${raw}": use ${what} from 0 to ${max}.`,
      'invalid_request_error',
      name,
    );
  }
  return value;
}

interface SimControls {
  latency: LatencyProfileName;
  /** x-sim-ttft-ms: time to first token of a completion, instead of the profile's. */
  ttftMs?: number;
  fault: SimFault | null;
}

function randomId(rng: Rng, prefix: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let id = prefix;
  for (let i = 0; i < 24; i++) id += alphabet[Math.floor(rng.next() * alphabet.length)] ?? 'x';
  return id;
}

function usageBody(promptTokens: number, completionTokens: number): Record<string, unknown> {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

export async function startModelSimulator(opts: ModelSimulatorOptions = {}): Promise<ModelSimulator> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? 0;
  // A `let`: PUT /v1/sim/latency switches it while the simulator runs.
  let defaultLatency = opts.latency ?? 'realistic';
  if (!isLatencyProfile(defaultLatency)) {
    throw new Error(
      `Model simulator: unknown latency profile "${String(defaultLatency)}"; ` +
        `use one of ${LATENCY_PROFILES.join(', ')}.`,
    );
  }
  const seed = (opts.seed ?? 42) >>> 0;
  const timeoutFaultMaxMs = opts.timeoutFaultMaxMs ?? DEFAULT_TIMEOUT_FAULT_MAX_MS;
  const created = Math.floor(Date.now() / 1000);
  const scopes = new Set<RequestScope>();
  let requestCounter = 0;
  /** Salt of the timing PRNG, so timing draws are independent of the content draws of one seed. */
  const TIMING_SALT = 0x7e1e;
  // Its own event loop (contract/event-loop.ts): the app relays it to the load test.
  const eventLoop = startEventLoopProbe();

  /** Reads x-sim-* headers; the fault-rate draw consumes the request's own seeded PRNG. */
  function readControls(req: IncomingMessage, rng: Rng): SimControls {
    const latencyHeader = headerValue(req, 'x-sim-latency');
    if (latencyHeader !== undefined && !isLatencyProfile(latencyHeader)) {
      throw new SimHttpError(
        400,
        `Invalid x-sim-latency header "${latencyHeader}": use one of ${LATENCY_PROFILES.join(', ')}.`,
        'invalid_request_error',
        'x-sim-latency',
      );
    }
    const faultHeader = headerValue(req, 'x-sim-fault');
    if (faultHeader !== undefined && !(SIM_FAULTS as readonly string[]).includes(faultHeader)) {
      throw new SimHttpError(
        400,
        `Invalid x-sim-fault header "${faultHeader}": use one of ${SIM_FAULTS.join(', ')}.`,
        'invalid_request_error',
        'x-sim-fault',
      );
    }
    let fault = (faultHeader as SimFault | undefined) ?? null;
    const draw = rng.next();
    const rate = numericHeader(req, 'x-sim-fault-rate', 1, 'a number');
    if (rate !== undefined) fault = draw < rate ? (fault ?? '5xx') : null;
    const ttftMs = numericHeader(req, 'x-sim-ttft-ms', MAX_TTFT_HEADER_MS, 'a number of milliseconds');
    return { latency: latencyHeader ?? defaultLatency, ttftMs, fault };
  }

  function answerFault(fault: SimFault, res: ServerResponse, scope: RequestScope): boolean {
    if (fault === '5xx') {
      sendJson(res, 503, {
        error: {
          message: 'The server is overloaded or not ready yet. (simulated by x-sim-fault)',
          type: 'server_error',
          param: null,
          code: null,
        },
      });
      return true;
    }
    if (fault === 'timeout') {
      // Hold the request open; the client's own timeout ends it. Bounded so nothing leaks.
      scope.later(timeoutFaultMaxMs, () => res.destroy());
      return true;
    }
    return false; // cut-stream is handled by the endpoint once it has a body to cut
  }

  function streamChat(
    res: ServerResponse,
    request: ChatRequest,
    completion: Completion,
    promptTokens: number,
    controls: SimControls,
    rng: Rng,
    scope: RequestScope,
  ): void {
    const timing = planCompletion(controls.latency, rng, controls.ttftMs);
    const id = randomId(rng, 'chatcmpl-');
    const base = {
      id,
      object: 'chat.completion.chunk',
      created: Math.floor(Date.now() / 1000),
      model: request.model,
      service_tier: 'default',
      system_fingerprint: SYSTEM_FINGERPRINT,
    };
    const withUsage = (chunk: Record<string, unknown>): Record<string, unknown> =>
      request.includeUsage ? { ...chunk, usage: null } : chunk;
    const write = (chunk: unknown): void => {
      if (!res.destroyed) res.write(`data: ${JSON.stringify(chunk)}\n\n`);
    };
    const start = performance.now();
    const cut = controls.fault === 'cut-stream';

    const begin = (): void => {
      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache',
        Connection: 'keep-alive',
        'x-request-id': randomId(rng, 'req_'),
        'openai-processing-ms': String(Math.round(timing.ttftMs)),
        'x-sim-ttft-ms': String(Math.round(timing.ttftMs)),
      });
      write(
        withUsage({
          ...base,
          choices: [
            { index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null },
          ],
        }),
      );
    };
    const finish = (): void => {
      write(
        withUsage({
          ...base,
          choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: completion.finishReason }],
        }),
      );
      if (request.includeUsage)
        write({ ...base, choices: [], usage: usageBody(promptTokens, completion.completionTokens) });
      if (!res.destroyed) res.end('data: [DONE]\n\n');
    };

    let next = 0;
    let begun = false;
    // Writes every piece that is due, then sleeps until the next one (drift-free: due times are
    // absolute offsets from the request start).
    const pump = (): void => {
      if (scope.closed || res.destroyed) return;
      if (!begun) {
        begun = true;
        begin();
      }
      const elapsed = performance.now() - start;
      while (next < completion.pieces.length) {
        const piece = completion.pieces[next];
        if (!piece || timing.tokenDueMs(piece.lastToken) > elapsed + 1) break;
        write(
          withUsage({
            ...base,
            choices: [{ index: 0, delta: { content: piece.text }, logprobs: null, finish_reason: null }],
          }),
        );
        next++;
        if (cut && next >= CUT_AFTER_PIECES) {
          // Let the delivered chunks reach the client first, then drop the connection mid-stream.
          scope.later(CUT_DELAY_MS, () => res.destroy());
          return;
        }
      }
      const piece = completion.pieces[next];
      if (!piece) {
        if (cut) scope.later(CUT_DELAY_MS, () => res.destroy());
        else finish();
        return;
      }
      scope.later(timing.tokenDueMs(piece.lastToken) - (performance.now() - start), pump);
    };
    if (completion.pieces.length === 0) {
      scope.later(timing.ttftMs, () => {
        begin();
        if (cut) scope.later(CUT_DELAY_MS, () => res.destroy());
        else finish();
      });
      return;
    }
    scope.later(timing.tokenDueMs(completion.pieces[0]?.lastToken ?? 0), pump);
  }

  function respondChat(
    res: ServerResponse,
    request: ChatRequest,
    completion: Completion,
    promptTokens: number,
    controls: SimControls,
    rng: Rng,
    scope: RequestScope,
  ): void {
    const timing = planCompletion(controls.latency, rng, controls.ttftMs);
    const totalMs = timing.totalMs(completion.completionTokens);
    const body = {
      id: randomId(rng, 'chatcmpl-'),
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: request.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: completion.text, refusal: null, annotations: [] },
          logprobs: null,
          finish_reason: completion.finishReason,
        },
      ],
      usage: usageBody(promptTokens, completion.completionTokens),
      service_tier: 'default',
      system_fingerprint: SYSTEM_FINGERPRINT,
    };
    const headers = {
      'x-request-id': randomId(rng, 'req_'),
      'openai-processing-ms': String(Math.round(totalMs)),
      'x-sim-ttft-ms': String(Math.round(timing.ttftMs)),
    };
    scope.later(totalMs, () => {
      if (controls.fault === 'cut-stream') {
        const payload = JSON.stringify(body);
        res.writeHead(200, {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(payload),
          ...headers,
        });
        res.write(payload.slice(0, Math.floor(payload.length / 3)));
        scope.later(CUT_DELAY_MS, () => res.destroy());
        return;
      }
      sendJson(res, 200, body, headers);
    });
  }

  function handleChat(body: unknown, res: ServerResponse, controls: SimControls, scope: RequestScope): void {
    const request = parseChatRequest(body);
    const promptTokens = countChatPromptTokens(request.messages, request.model);
    assertWithinContext(request.model, promptTokens, request.maxTokens);
    const completion = buildCompletion(request, seed);
    // Timing and ids from the request's content, never from arrival order (see the header).
    const rng = createRng(mixSeeds(promptSeed(seed, request), TIMING_SALT));
    if (request.stream) streamChat(res, request, completion, promptTokens, controls, rng, scope);
    else respondChat(res, request, completion, promptTokens, controls, rng, scope);
  }

  function handleEmbeddings(body: unknown, res: ServerResponse, controls: SimControls, scope: RequestScope): void {
    const request = parseEmbeddingRequest(body);
    const rng = createRng(
      mixSeeds(hashString(JSON.stringify(request.inputs), hashString(request.model, seed)), TIMING_SALT),
    );
    const encoding = encodingForModel(request.model);
    let promptTokens = 0;
    const data = request.inputs.map((input, index) => {
      const tokens = typeof input === 'string' ? countTokens(input, encoding) : input.length;
      if (tokens > 8192) {
        throw new SimHttpError(
          400,
          `This model's maximum context length is 8192 tokens, however you requested ${tokens} tokens ` +
            `(${tokens} in your prompt; 0 for the completion). Please reduce your prompt; or completion length.`,
          'invalid_request_error',
          null,
          'context_length_exceeded',
        );
      }
      promptTokens += tokens;
      const vector = embed(typeof input === 'string' ? input : input.join(' '), request.dimensions, seed);
      const embedding =
        request.encodingFormat === 'base64'
          ? Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64')
          : Array.from(vector);
      return { object: 'embedding', index, embedding };
    });
    const delayMs = planEmbeddingMs(controls.latency, rng);
    const payload = {
      object: 'list',
      data,
      model: request.model,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    };
    scope.later(delayMs, () => {
      if (controls.fault === 'cut-stream') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write(JSON.stringify(payload).slice(0, 200));
        scope.later(CUT_DELAY_MS, () => res.destroy());
        return;
      }
      sendJson(res, 200, payload, { 'openai-processing-ms': String(Math.round(delayMs)) });
    });
  }

  function modelEntry(id: string): Record<string, unknown> {
    return { id, object: 'model', created, owned_by: id.startsWith('text-embedding') ? 'openai-internal' : 'system' };
  }

  /** GET / PUT /v1/sim/latency; also before the request counter, for the same reason as the probe. */
  async function latencySwitch(method: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (method === 'GET') {
      sendJson(res, 200, { latency: defaultLatency });
      return;
    }
    let wanted: unknown;
    try {
      wanted = (JSON.parse((await readBody(req)).toString('utf8')) as { latency?: unknown } | null)?.latency;
    } catch {
      throw new SimHttpError(400, INVALID_JSON_MESSAGE);
    }
    if (typeof wanted !== 'string' || !isLatencyProfile(wanted)) {
      throw new SimHttpError(
        400,
        `Invalid latency ${JSON.stringify(wanted)}: send {"latency": one of ${LATENCY_PROFILES.join(', ')}}.`,
        'invalid_request_error',
        'latency',
      );
    }
    const previous = defaultLatency;
    defaultLatency = wanted;
    sendJson(res, 200, { latency: defaultLatency, previous });
  }

  async function handle(req: IncomingMessage, res: ServerResponse, scope: RequestScope): Promise<void> {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const auth = headerValue(req, 'authorization');
    if (!auth || !/^Bearer\s+\S+/i.test(auth)) {
      throw new SimHttpError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header " +
          'using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).',
      );
    }
    // Before the request counter: reading the probe must not shift the fault-rate draws of later requests.
    if (method === 'GET' && path === SIM_EVENT_LOOP_PATH) {
      sendJson(res, 200, eventLoop.read());
      return;
    }
    if (path === SIM_LATENCY_PATH && (method === 'GET' || method === 'PUT')) {
      await latencySwitch(method, req, res);
      return;
    }
    // Only the fault-rate draw follows request order (a share of requests fails); timing follows content.
    const controls = readControls(req, createRng(mixSeeds(seed, ++requestCounter)));

    if (method === 'GET' && path === '/v1/models') {
      const ids = [...CHAT_MODELS, ...Object.keys(EMBEDDING_MODELS)];
      sendJson(res, 200, { object: 'list', data: ids.map(modelEntry) });
      return;
    }
    const modelMatch = /^\/v1\/models\/(.+)$/.exec(path);
    if (method === 'GET' && modelMatch?.[1]) {
      const id = decodeURIComponent(modelMatch[1]);
      assertKnownModel(id);
      sendJson(res, 200, modelEntry(id));
      return;
    }
    const isChat = method === 'POST' && path === '/v1/chat/completions';
    const isEmbeddings = method === 'POST' && path === '/v1/embeddings';
    if (!isChat && !isEmbeddings) throw new SimHttpError(404, `Invalid URL (${method} ${path})`);

    const raw = await readBody(req);
    if (controls.fault && answerFault(controls.fault, res, scope)) return;
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8')) as unknown;
    } catch {
      throw new SimHttpError(400, INVALID_JSON_MESSAGE);
    }
    if (isChat) handleChat(body, res, controls, scope);
    else handleEmbeddings(body, res, controls, scope);
  }

  const server: Server = createServer((req, res) => {
    const scope = new RequestScope(() => res.destroy());
    scopes.add(scope);
    res.on('close', () => {
      scope.dispose();
      scopes.delete(scope);
    });
    handle(req, res, scope).catch((error: unknown) => {
      if (error instanceof SimHttpError) {
        sendJson(res, error.status, error.toBody(), error.status === 413 ? { Connection: 'close' } : {});
        return;
      }
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(`model-sim: internal error: ${message}\n`);
      sendJson(res, 500, {
        error: { message: `Model simulator internal error: ${message}`, type: 'server_error', param: null, code: null },
      });
    });
  });
  server.keepAliveTimeout = 5_000;
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      if (error.code === 'EADDRINUSE') {
        reject(
          new Error(
            `Model simulator: port ${port} on ${host} is already in use. ` +
              'Choose another port, or use port 0 for a free one.',
          ),
        );
      } else {
        reject(new Error(`Model simulator: cannot listen on ${host}:${port}: ${error.message}`));
      }
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });

  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const warm = opts.warmTokenizers ?? true;
  const tokenizersReady = warm === false ? Promise.resolve() : warmTokenizers(warm === true ? undefined : warm);

  let closing: Promise<void> | null = null;
  return {
    url: `http://${urlHost}:${address.port}/v1`,
    tokenizersReady,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        for (const scope of scopes) scope.dispose();
        scopes.clear();
        eventLoop.stop();
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
