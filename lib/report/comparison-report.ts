/**
 * The comparison (compare mode) as a section of the run's report (lib/report/summary.ts `perfReport`): one
 * row per metric, base p50 → candidate p50, the candidate/base ratio with its 95 % interval, and the
 * decision.
 */
import type { Comparison, ComparedMetric, ComparisonBase } from '../verdict/compare';
import { table, text, type Section } from './document';
import { formatNumber } from '../verdict/thresholds';

const MARK: Record<ComparedMetric['decision'], string> = {
  regression: '✗ regression',
  improvement: '✓ improvement',
  'no-change': '· no change',
  'insufficient-data': '? too few pairs',
};

export function describeBase(base: ComparisonBase): string {
  if (base.ref) return `${base.ref}${base.commit ? ` (${base.commit.slice(0, 12)})` : ''}`;
  return base.url ?? 'the base';
}

/** The change: `×1.031 [1.012–1.049]` (times) or `+1.00 tokens` (counts). */
export function effectText(m: ComparedMetric): string {
  if (m.ratio === null) return 'n/a';
  if (m.kind === 'difference') {
    const d = m.difference ?? 0;
    return `${d >= 0 ? '+' : ''}${d.toFixed(2)} ${m.unit}`;
  }
  const ci = m.ci95.low === null || m.ci95.high === null ? '' : ` [${m.ci95.low.toFixed(3)}–${m.ci95.high.toFixed(3)}]`;
  return `×${m.ratio.toFixed(3)}${ci}`;
}

/** The minimum effect: `±10 %` or `±0.5 tokens`. */
export function minEffectText(m: ComparedMetric): string {
  return m.kind === 'difference' ? `±${m.minEffect} ${m.unit}` : `±${(m.minEffect * 100).toFixed(0)} %`;
}

/** The decision cell; a no-change the corrected test could not confirm says which way it leans. */
function decisionText(m: ComparedMetric): string {
  if (m.decision === 'no-change' && m.unconfirmed) return `· no change (likely ${m.unconfirmed}, unconfirmed)`;
  return MARK[m.decision];
}

function headline(c: Comparison): string {
  const unchanged = c.metrics.filter((m) => m.decision === 'no-change').length;
  const unconfirmed = c.metrics.filter((m) => m.decision === 'no-change' && m.unconfirmed).length;
  const unsure = c.metrics.filter((m) => m.decision === 'insufficient-data').length;
  const n = (k: number, one: string, many: string) => `${k} ${k === 1 ? one : many}`;
  return (
    `${n(c.regressions, 'regression', 'regressions')}, ${n(c.improvements, 'improvement', 'improvements')}, ` +
    `${unchanged} unchanged` +
    (unconfirmed > 0
      ? ` (${unconfirmed} of them beyond the minimum effect at 95 % but not after the Holm correction: ` +
        'likely changed, unconfirmed; more pairs would decide)'
      : '') +
    (unsure > 0 ? `, ${unsure} with too few pairs` : '')
  );
}

/** The comparison as a report section: one row per metric. */
export function comparisonSection(c: Comparison): Section {
  const head = ['Metric', 'Scenario', 'Base p50', 'Candidate p50', 'Candidate/base [95 % CI]', 'Pairs', 'Min effect'];
  const rows = c.metrics.map((m) => [
    m.name,
    m.scenario,
    formatNumber(m.base.p50, m.unit),
    formatNumber(m.candidate.p50, m.unit),
    effectText(m),
    String(m.base.n),
    minEffectText(m),
    decisionText(m),
  ]);
  return {
    heading: `Comparison with the base ${describeBase(c.base)}`,
    blocks: [
      text(
        `**${headline(c)}.** Candidate/base from paired samples; a regression is a change beyond the ` +
          'minimum effect, with 95 % confidence after a Holm correction across the metrics.',
      ),
      table([...head, 'Decision'], rows, 'llrrrrr'),
      text(`<sub>Method: ${c.method}.</sub>`, 'markdown'),
    ],
  };
}
