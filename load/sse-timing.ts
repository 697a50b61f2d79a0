/**
 * Timing of one streamed chat reply, from the client's side (Artillery has no SSE timing of its
 * own). Fed the raw response chunks with their arrival time; knows the API contract's events:
 * `meta`, `token`*, then `done` or `error` (docs/target-adapter.md).
 *
 *   ttftMs   request sent → first `token` event parsed
 *   gapsMs   time between consecutive `token` events (inter-token latency)
 *   totalMs  request sent → `done`/`error` event parsed (the round trip a user waits)
 *
 * Pure (no I/O, no clock): the caller passes timestamps, so the unit tests can drive it exactly.
 * It reuses the suite's SSE parser (clients/sse.ts), which handles events split at any chunk
 * boundary and CRLF line ends.
 */
import { SseParser } from '../clients/sse';

/** Why a chat request did not end in `done`; also the key of the errors-by-cause table. */
export type ChatFailure =
  | `http_${number}` // a non-200 answer before the stream (e.g. http_401, http_503)
  | 'model_error' // `error` event with code model_error (502 semantics)
  | 'model_timeout' // `error` event with code model_timeout
  | 'stream_error' // `error` event with another code (e.g. internal)
  | 'stream_incomplete' // the stream ended without `done` or `error`
  | 'stream_malformed' // an event whose data is not the contract's JSON
  | 'client_timeout' // no end within the client's limit
  | 'connection'; // refused/reset/closed before an answer

export class ChatStreamTimer {
  private readonly parser = new SseParser();
  private readonly decoder = new TextDecoder();
  private firstTokenAt: number | undefined;
  private lastTokenAt: number | undefined;
  private readonly gaps: number[] = [];
  /** `token` events seen. */
  private tokens = 0;
  /**
   * The app's own clock for the same request (`done.timing`: handler start → first token / done),
   * when it sends one: client minus server time is what the network and the load generator add.
   */
  private server: { ttftMs: number | undefined; totalMs: number } | undefined;
  private endedAt: number | undefined;
  private failure: ChatFailure | undefined;

  /** `sentAt`: when the request left (same clock as the chunk times). */
  constructor(private readonly sentAt: number) {}

  /** True once `done` or `error` arrived: the caller can stop reading. */
  get finished(): boolean {
    return this.endedAt !== undefined;
  }

  push(chunk: Uint8Array | string, at: number): void {
    const text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    for (const msg of this.parser.push(text)) this.onEvent(msg.event, msg.data, at);
  }

  /** End of the response body (or the caller gives up with `failure`). */
  end(at: number, failure?: ChatFailure) {
    if (!this.finished) for (const msg of this.parser.end()) this.onEvent(msg.event, msg.data, at);
    if (this.endedAt === undefined) {
      this.endedAt = at;
      this.failure ??= failure ?? 'stream_incomplete';
    }
    return {
      ttftMs: this.firstTokenAt === undefined ? undefined : this.firstTokenAt - this.sentAt,
      gapsMs: this.gaps,
      totalMs: this.endedAt - this.sentAt,
      tokens: this.tokens,
      server: this.server,
      failure: this.failure,
    };
  }

  private onEvent(event: string, data: string, at: number): void {
    if (this.finished) return;
    if (event === 'token') {
      if (this.lastTokenAt !== undefined) this.gaps.push(at - this.lastTokenAt);
      this.firstTokenAt ??= at;
      this.lastTokenAt = at;
      this.tokens += 1;
      return;
    }
    if (event !== 'done' && event !== 'error') return; // `meta` and unknown events carry no timing
    this.endedAt = at;
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      this.failure = 'stream_malformed';
      return;
    }
    if (event === 'done') {
      const t = (parsed as { timing?: { ttftMs?: unknown; totalMs?: unknown } }).timing;
      if (typeof t?.totalMs === 'number') {
        this.server = { ttftMs: typeof t.ttftMs === 'number' ? t.ttftMs : undefined, totalMs: t.totalMs };
      }
      return;
    }
    const code = (parsed as { error?: { code?: unknown } }).error?.code;
    this.failure = code === 'model_error' || code === 'model_timeout' ? code : 'stream_error';
  }
}

/** Longest a chat may take before the client gives up and counts it as `client_timeout`. */
export const CLIENT_TIMEOUT_MS = 60_000;

/** Network errors → `connection`, our own abort → `client_timeout`. */
export function failureOfError(err: unknown): ChatFailure {
  const e = err as { name?: string; cause?: { name?: string } } | null;
  const timedOut = e?.name === 'TimeoutError' || e?.name === 'AbortError' || e?.cause?.name === 'TimeoutError';
  return timedOut ? 'client_timeout' : 'connection';
}
