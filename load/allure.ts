/**
 * The Allure result "Load capacity": one step per stage of the ramp (users, pass/fail, the
 * figures as parameters), the summary and charts attached. Written beside the Playwright results
 * in `${PERF_REPORT_DIR}/allure-results`, so `npm run report` shows it with the checkpoint. A
 * later load run replaces the earlier "Load capacity" result (same fullName), nothing else.
 */
import { Stage, Status, type StepResult } from 'allure-js-commons';
import { writeRunResult } from '../lib/report/allure';
import type { Chart } from '../lib/report/charts';
import { limitsOf, ms, p3, type LoadSummary } from './summary';

const FULL_NAME = 'memorychat-perf:load-capacity';

const percent = (v: number | null, digits: number): string => (v === null ? '–' : `${(v * 100).toFixed(digits)} %`);

export function writeAllureLoad(input: {
  resultsDir: string;
  summary: LoadSummary;
  markdown: string;
  json: string;
  charts: readonly Chart[];
  start: number;
  stop: number;
}): string {
  const { resultsDir, summary: s, start, stop } = input;
  const steps: StepResult[] = s.stages.map((st) => ({
    name:
      `${st.passed ? '✓' : '✗'} ${st.users} concurrent users: round-trip p95 ${ms(st.totalMs.p95)}, ` +
      `errors ${(st.errorRate * 100).toFixed(2)} %, goodput ${percent(st.goodput, 1)}`,
    status: st.passed ? Status.PASSED : Status.FAILED,
    stage: Stage.FINISHED,
    statusDetails: st.passed ? {} : { message: [...st.reasons, ...limitsOf(st)].join('\n') },
    steps: [],
    attachments: [],
    parameters: [
      { name: 'chat requests', value: String(st.chatRequests) },
      { name: 'API calls', value: String(st.requests) },
      { name: 'errors by cause', value: JSON.stringify(st.errorCauses) },
      { name: 'TTFT p50/p95/p99', value: p3(st.ttftMs) },
      { name: 'inter-token p50/p95/p99', value: p3(st.itlMs) },
      { name: 'round trip p50/p95/p99', value: p3(st.totalMs) },
      { name: 'app CPU (cores)', value: st.cpu?.app === undefined ? '–' : st.cpu.app.toFixed(2) },
      { name: 'DB all connections busy', value: st.db ? `${percent(st.db.allBusyShare, 0)} of samples` : '–' },
    ],
    start,
    stop,
  }));
  const c = s.capacity;
  const f = c.firstFailure;
  const first = f ? `; first failing step ${f.users} users: ${f.reasons.join('; ')}` : '';
  const message = s.setupError
    ? `Not measured: ${s.setupError}`
    : s.verdict === 'pass'
      ? undefined
      : `Load capacity ${c.maxUsers} concurrent users is below the required ${c.minUsers}${first}`;
  return writeRunResult({
    resultsDir,
    attach: { ...input, name: 'load-summary' },
    name: 'Load capacity',
    fullName: FULL_NAME,
    feature: 'Load',
    framework: 'artillery',
    verdict: s.verdict,
    setupError: s.setupError,
    message,
    description:
      "Stepped ramp of concurrent chat users with Artillery; capacity = the largest step whose chats' " +
      `round-trip p95 < ${c.criteria.p95TotalMsBelow} ms and error rate < ${percent(c.criteria.errorRateBelow, 0)}. ` +
      `Measured: ${c.maxUsers} users (required ${c.minUsers}).`,
    steps,
    parameters: [
      { name: 'capacity (users)', value: String(c.maxUsers) },
      { name: 'required (LOAD_MIN_USERS)', value: String(c.minUsers) },
      { name: 'model', value: `${s.model.source}${s.model.latency ? ` (${s.model.latency})` : ''}` },
    ],
    start,
    stop,
  }).uuid;
}
