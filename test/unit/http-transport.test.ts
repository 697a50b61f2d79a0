/**
 * The API client's transport loads undici at its first request: a close() meanwhile, a request
 * after close(), and a transport never used must each end as they did with undici loaded up front.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpTransport } from '../../clients/http-transport';

async function slowServer(delayMs: number): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => setTimeout(() => res.end('ok'), delayMs));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return { url, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const get = (url: string) => ({ method: 'GET' as const, url, headers: {}, signal: AbortSignal.timeout(5_000) });

void test('a close() right after the first send() gives that request its grace', async () => {
  const server = await slowServer(100);
  try {
    const transport = new HttpTransport();
    const sent = transport.send(get(server.url));
    const closed = transport.close(2_000);
    const res = await sent;
    assert.equal(res.status, 200);
    assert.equal(await res.body.text(), 'ok');
    await closed;
  } finally {
    await server.close();
  }
});

void test('a send() after close() fails at once; closing a transport never used loads nothing', async () => {
  const transport = new HttpTransport();
  await transport.close();
  await assert.rejects(transport.send(get('http://127.0.0.1:1/')), /closed/);
});
