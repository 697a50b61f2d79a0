import { test } from '@playwright/test';
import { syntheticRun } from './synthetic';
import { attachMetricsDocument } from '../../fixtures/perf';

const mode = process.env.SYNTH_MODE ?? 'pass';
const docs =
  mode === 'empty'
    ? []
    : syntheticRun(mode === 'slow' ? { scale: { 'response.total_ms': 4, 'response.ui_done_ms': 4 } } : {});

for (const doc of docs) {
  test(doc.test.title, async ({}, testInfo) => {
    await attachMetricsDocument(testInfo, JSON.stringify(doc));
  });
}

if (mode === 'bad') {
  test('corrupt metrics attachment', async ({}, testInfo) => {
    await attachMetricsDocument(testInfo, '{"schemaVersion": 1, "metrics": "oops"}');
  });
}

if (mode === 'empty') {
  test('no metrics at all', () => {});
}
