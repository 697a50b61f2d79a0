/**
 * The load test's event-loop and CPU-burst figures: parsing the target's probe
 * (contract/event-loop.ts), a step's figures from its 5-s windows, the busiest stretch of the
 * machine (load/probes.ts), and how the report shows them (load/summary.ts), "not reported" for a
 * target without the probe included.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { EVENT_LOOP_PATH, parseEventLoopReport, type EventLoopDelay } from '../../contract';
import { peakShare, startEventLoopSampler, summarizeLoop } from '../../load/probes';
import { limitsOf, renderLoadConsole, renderLoadMarkdown, type LoadStage, type LoadSummary } from '../../load/summary';

const window = (over: Partial<EventLoopDelay> = {}): EventLoopDelay => ({
  windowMs: 5000,
  samples: 400,
  delayP50Ms: 1,
  delayP99Ms: 10,
  delayMaxMs: 20,
  utilization: 0.5,
  ...over,
});

void test('parseEventLoopReport accepts the contract and names what is wrong otherwise', () => {
  assert.deepEqual(parseEventLoopReport({ app: window(), modelSimulator: null }), {
    app: window(),
    modelSimulator: null,
  });
  assert.deepEqual(parseEventLoopReport({ app: window() }), { app: window(), modelSimulator: null });
  const both = parseEventLoopReport({ app: window(), modelSimulator: window({ utilization: 1 }) });
  assert.equal(typeof both === 'string' ? both : both.modelSimulator?.utilization, 1);
  assert.equal(parseEventLoopReport('<html>'), 'the body is not a JSON object');
  assert.equal(parseEventLoopReport({}), 'app: not an object');
  assert.equal(parseEventLoopReport({ app: { ...window(), delayP99Ms: '3' } }), 'app.delayP99Ms: not a number ≥ 0');
  assert.equal(parseEventLoopReport({ app: window({ samples: -1 }) }), 'app.samples: not a number ≥ 0');
  assert.equal(parseEventLoopReport({ app: window({ utilization: 1.5 }) }), 'app.utilization: above 1');
  assert.equal(parseEventLoopReport({ app: window(), modelSimulator: 7 }), 'modelSimulator: not an object');
});

void test('a step: median p50, worst-window p99, max, mean and peak utilization over full windows', () => {
  const figures = summarizeLoop([
    window({ delayP50Ms: 0.2, delayP99Ms: 5, delayMaxMs: 9, utilization: 0.3 }),
    window({ delayP50Ms: 15, delayP99Ms: 73, delayMaxMs: 218, utilization: 1 }),
    window({ delayP50Ms: 2, delayP99Ms: 30, delayMaxMs: 40, utilization: 0.8 }),
    // The last, short window: in the mean (weighted by its length) but not the peak.
    window({ windowMs: 500, delayP50Ms: 0.1, delayP99Ms: 1, delayMaxMs: 2, utilization: 1 }),
  ]);
  assert.deepEqual(figures, {
    windows: 4,
    delayP50Ms: 1.1, // median of 0.1, 0.2, 2, 15
    delayP99Ms: 73,
    delayMaxMs: 218,
    utilizationMean: 0.71, // (0.3·5000 + 1·5000 + 0.8·5000 + 1·500) / 15500 = 0.7097
    utilizationPeak: 1,
  });
  assert.equal(summarizeLoop([]), null);
  assert.equal(summarizeLoop([window({ samples: 0 })]), null, 'a window in which the timer never fired says nothing');
  assert.equal(summarizeLoop([window({ windowMs: 300, utilization: 0.9 })])?.utilizationPeak, 0.9);
});

void test('peakShare finds the busiest stretch that a step average hides', () => {
  // 10 s of readings: 50 % busy, except 100 % from second 4 to 9.
  const readings = [];
  let busy = 0;
  for (let at = 0; at <= 10; at++) {
    readings.push({ at, busy, total: at * 100 });
    busy += at >= 4 && at < 9 ? 100 : 50;
  }
  const avg = (readings[10]!.busy - readings[0]!.busy) / (readings[10]!.total - readings[0]!.total);
  assert.equal(avg, 0.75);
  assert.equal(peakShare(readings, 5), 1);
  assert.equal(peakShare(readings, 11), undefined, 'no stretch that long');
  assert.equal(peakShare([], 5), undefined);
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

void test('a target without the probe is "not reported", never an error', async () => {
  const { url, server } = await serve((_req, res) => {
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end('{"error":{"code":"not_found","message":"no such endpoint"}}');
  });
  try {
    const figures = await startEventLoopSampler(url).stop();
    assert.equal(figures.reported, false);
    assert.match(figures.note ?? '', /does not offer GET \/api\/diagnostics\/event-loop \(404\)/);
    assert.equal(figures.app, null);
  } finally {
    server.close();
  }
});

void test('a malformed answer is "not reported" with the reason; a good one gives the step figures', async () => {
  let body: unknown = { app: { windowMs: 'soon' } };
  const reads: string[] = [];
  const { url, server } = await serve((req, res) => {
    reads.push(req.url ?? '');
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  try {
    const bad = await startEventLoopSampler(url).stop();
    assert.equal(bad.reported, false);
    assert.match(bad.note ?? '', /app\.windowMs: not a number/);
    body = { app: window({ delayP99Ms: 42 }), modelSimulator: window({ utilization: 0.25 }) };
    const good = await startEventLoopSampler(url).stop();
    assert.equal(good.reported, true);
    assert.equal(good.app?.delayP99Ms, 42);
    assert.equal(good.modelSimulator?.utilizationPeak, 0.25);
    assert.ok(reads.every((r) => r === EVENT_LOOP_PATH));
  } finally {
    server.close();
  }
});

const stage = (over: Partial<LoadStage> = {}): LoadStage => ({
  users: 400,
  passed: true,
  reasons: [],
  durationS: 40,
  requests: 2500,
  chatRequests: 1200,
  errors: 0,
  errorRate: 0,
  errorCauses: {},
  ttftMs: { p50: 600, p95: 3200, p99: 3600 },
  itlMs: { p50: 12, p95: 50, p99: 80 },
  totalMs: { p50: 1900, p95: 4300, p99: 5400 },
  serverTtftMs: { p50: 596, p95: 1153, p99: 1400 },
  serverTotalMs: { p50: 1864, p95: 2466, p99: 2800 },
  goodput: 0.97,
  chatsPerSecond: 30,
  concurrency: { activeUsersP50: 400, activeUsersMax: 400, chatsInFlightP50: 190, chatsInFlightMax: 230 },
  tokensPerReply: 99,
  browser: null,
  db: null,
  mergeCheck: null,
  topStatements: [],
  cpu: {
    app: 0.38,
    postgres: 0.28,
    modelSimulator: 0.17,
    loadGenerator: 0.57,
    machineBusy: 0.73,
    machineBusyPeak: 0.97,
    cpuPressure: 0.45,
    cpuPressurePeak: 0.85,
    coreWait: { app: 0.5, modelSimulator: 0.45 },
    cores: 2,
  },
  eventLoop: {
    reported: true,
    note: null,
    app: { windows: 8, delayP50Ms: 15.1, delayP99Ms: 73.2, delayMaxMs: 218, utilizationMean: 0.7, utilizationPeak: 1 },
    modelSimulator: {
      windows: 8,
      delayP50Ms: 1,
      delayP99Ms: 47.3,
      delayMaxMs: 326,
      utilizationMean: 0.4,
      utilizationPeak: 0.54,
    },
  },
  ...over,
});

const summary = (stages: LoadStage[]): LoadSummary => ({
  schemaVersion: 1,
  verdict: 'pass',
  engine: 'artillery',
  artilleryVersion: '2.0.21',
  createdAt: '2026-11-27T20:00:00.000Z',
  runId: 'load-test',
  target: { baseUrl: 'http://127.0.0.1:1', bundledStack: true, app: 'memorychat', version: '0.1.0', faults: [] },
  model: { source: 'simulator', latency: 'realistic', conversation: 'gpt-4o-mini' },
  capacity: {
    maxUsers: 400,
    minUsers: 100,
    criteria: { p95TotalMsBelow: 5000, errorRateBelow: 0.01, minChatRequests: 100 },
    firstFailure: null,
    limitedBy: [],
  },
  ramp: { steps: [400], stoppedEarly: false, thinkS: 2, browsers: 1, memoriesPerUser: 200, minTurns: 3, workers: 1 },
  stages,
});

void test('a saturated plateau behind a calm average is named, with the app loop waiting for a core', () => {
  const limits = limitsOf(stage());
  assert.ok(
    limits.some((l) => /CPUs were 97\.0 % busy in the busiest 5 s \(73\.0 % over the whole step/.test(l)),
    limits.join('\n'),
  );
  assert.ok(
    limits.some(
      (l) =>
        /^app event loop 100\.0 % busy .*p50 15 ms \/ p99 73 ms/.test(l) &&
        /spent 50\.0 % of the time it was ready to run waiting for a core/.test(l),
    ),
    limits.join('\n'),
  );
  // The same loop on a machine with cores to spare: its own work is what fills it.
  const own = limitsOf(stage({ cpu: { ...stage().cpu!, coreWait: { app: 0.1 } } }));
  assert.ok(
    own.some((l) => /^app event loop .*waited for a core only 10\.0 % of the time: its own work fills it/.test(l)),
    own.join('\n'),
  );
  assert.ok(!limits.some((l) => l.startsWith('model simulator event loop')), 'a simulator loop at 54 % is not full');
  // A calm step names none of it.
  const calm = stage({
    cpu: { machineBusy: 0.5, machineBusyPeak: 0.6, cores: 2 },
    eventLoop: {
      reported: true,
      note: null,
      app: { ...stage().eventLoop!.app!, utilizationPeak: 0.5 },
      modelSimulator: null,
    },
  });
  assert.deepEqual(
    limitsOf(calm).filter((l) => /event loop|CPUs/.test(l)),
    [],
  );
});

void test('the report shows the loop per step, and "not reported" for a target without the probe', () => {
  const without = stage({
    users: 200,
    eventLoop: {
      reported: false,
      note: 'the target does not offer GET /api/diagnostics/event-loop (404)',
      app: null,
      modelSimulator: null,
    },
    cpu: { machineBusy: 0.6, cores: 2 },
  });
  const md = renderLoadMarkdown(summary([without, stage()]));
  assert.match(md, /\| app loop p50 \/ p99 \(busy\) \| sim loop p50 \/ p99 \(busy\) \| machine CPU peak \|/);
  assert.match(md, /\| not reported \| not reported \| – \|/);
  assert.match(md, /\| 15 \/ 73 ms \(100\.0 %\) \| 1\.0 \/ 47 ms \(54\.0 %\) \| 97\.0 % \|/);
  assert.match(
    md,
    /- event loop: not reported \(the target does not offer GET \/api\/diagnostics\/event-loop \(404\)\)/,
  );
  assert.match(md, /- event loop \(\/api\/diagnostics\/event-loop, 5-s windows\): app delay p50 15 ms, p99 73 ms/);
  assert.match(
    md,
    /97\.0 % in its busiest 5 s; some task waited for a core 45\.0 % of the step \(85\.0 % in the worst 5 s\)/,
  );
  // 0.73 × 2 cores busy, 1.40 of them by the stack and the generator.
  assert.match(
    md,
    /machine 73\.0 % busy of 2 cores \(0\.06 cores of it by other processes\), 97\.0 % in its busiest 5 s/,
  );
  assert.match(md, /main thread ready but waiting for a core: app 50\.0 %, model simulator 45\.0 % of the time/);
  const consoleText = renderLoadConsole(summary([without, stage()]));
  assert.match(consoleText, /app loop p99\s+CPU peak/);
  assert.match(consoleText, /not reported\s+–/);
  assert.match(consoleText, /73 ms\s+97\.0 %/);
});
