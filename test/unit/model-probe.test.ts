/**
 * The model probe (clients/model-probe.ts) against a scripted endpoint: a reply that stalls after
 * its headers fails the sample with a cause, within the probe's bounds, instead of hanging.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ModelProbe } from '../../clients/model-probe';

const chunk = (content: string) => {
  const choices = [{ index: 0, delta: { content }, finish_reason: null }];
  return `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 0, model: 'm', choices })}\n\n`;
};

let server: http.Server;
let probe: ModelProbe;

before(async () => {
  server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk('Hel'));
    // Then nothing: the headers and a first token came, the rest never does.
    req.on('close', () => res.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  probe = new ModelProbe(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, 'sk-test', 'm');
});

after(() => new Promise<void>((r) => server.close(() => r())));

void test('a reply that stalls mid-stream fails as model_timeout once no chunk came for idleMs', async () => {
  const t0 = performance.now();
  await assert.rejects(probe.streamChat([{ role: 'user', content: 'hi' }], { idleMs: 300, timeoutMs: 10_000 }), (e) => {
    assert.equal((e as { code?: string }).code, 'model_timeout');
    assert.match((e as Error).message, /no data for 300 ms mid-stream/);
    return true;
  });
  assert.ok(performance.now() - t0 < 3_000, 'bounded by idleMs, not by the test timeout');
});

void test('the whole call is bounded by timeoutMs too', async () => {
  await assert.rejects(probe.streamChat([{ role: 'user', content: 'hi' }], { idleMs: 5_000, timeoutMs: 400 }), (e) => {
    assert.equal((e as { code?: string }).code, 'model_timeout');
    assert.match((e as Error).message, /no complete reply within 400 ms/);
    return true;
  });
});
