import { test } from '@playwright/test';
import { METRICS_ATTACHMENT } from '../../lib/metrics-schema';
import { syntheticRun } from './synthetic';

const mode = process.env.SYNTH_MODE ?? 'pass';
const docs = mode === 'empty' ? [] : syntheticRun(mode === 'slow' ? { scale: { 'response.total_ms': 4, 'response.ui_done_ms': 4 } } : {});

for (const doc of docs) {
  test(doc.test.title, async ({}, testInfo) => {
    await testInfo.attach(METRICS_ATTACHMENT, { body: JSON.stringify(doc), contentType: 'application/json' });
  });
}

if (mode === 'bad') {
  test('corrupt metrics attachment', async ({}, testInfo) => {
    await testInfo.attach(METRICS_ATTACHMENT, { body: '{"schemaVersion": 1, "metrics": "oops"}', contentType: 'application/json' });
  });
}

if (mode === 'empty') {
  test('no metrics at all', () => {});
}
