/**
 * The comparison (compare mode) as console lines and as a Markdown table: one row per metric,
 * base p50 → candidate p50, the candidate/base ratio with its 95 % interval, and the decision.
 * Rendered inside the run's summaries (lib/summary.ts), which every report is built from.
 */
import type { Comparison, ComparedMetric, ComparisonBase } from './compare';
import { formatNumber } from './thresholds';

const MARK: Record<ComparedMetric['decision'], string> = {
  regression: '✗ regression',
  improvement: '✓ improvement',
  'no-change': '· no change',
  'insufficient-data': '? too few pairs',
};
const MD_MARK: Record<ComparedMetric['decision'], string> = {
  regression: '❌',
  improvement: '🟢',
  'no-change': '✅',
  'insufficient-data': '❔',
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

function headline(c: Comparison): string {
  const unchanged = c.metrics.filter((m) => m.decision === 'no-change').length;
  const unsure = c.metrics.filter((m) => m.decision === 'insufficient-data').length;
  const n = (k: number, one: string, many: string) => `${k} ${k === 1 ? one : many}`;
  return (
    `${n(c.regressions, 'regression', 'regressions')}, ${n(c.improvements, 'improvement', 'improvements')}, ` +
    `${unchanged} unchanged` +
    (unsure > 0 ? `, ${unsure} with too few pairs` : '')
  );
}

export function comparisonConsoleLines(c: Comparison): string[] {
  const out = [`Comparison with the base ${describeBase(c.base)} (candidate/base, paired): ${headline(c)}`];
  for (const m of c.metrics) {
    out.push(
      `  ${MARK[m.decision].padEnd(15)} ${`${m.name} [${m.scenario}]`.padEnd(46)} ` +
        `p50 ${formatNumber(m.base.p50, m.unit)} → ${formatNumber(m.candidate.p50, m.unit)}  ` +
        `${effectText(m)}  n=${m.base.n}  (min effect ${minEffectText(m)})`,
    );
  }
  return out;
}

export function comparisonMarkdown(c: Comparison): string[] {
  const out = [
    `### Compared with the base: ${describeBase(c.base)}`,
    '',
    `**${headline(c)}.** Candidate/base from paired samples; a regression is a change beyond the ` +
      'minimum effect, with 95 % confidence after a Holm correction across the metrics.',
    '',
    '| Metric | Scenario | Base p50 | Candidate p50 | Candidate/base [95 % CI] | Pairs | Min effect | Decision |',
    '|---|---|--:|--:|--:|--:|--:|---|',
  ];
  for (const m of c.metrics) {
    out.push(
      `| ${m.name} | ${m.scenario} | ${formatNumber(m.base.p50, m.unit)} | ${formatNumber(m.candidate.p50, m.unit)} ` +
        `| ${effectText(m)} | ${m.base.n} | ${minEffectText(m)} | ${MD_MARK[m.decision]} ${m.decision} |`,
    );
  }
  out.push('', `<sub>Method: ${c.method}.</sub>`);
  return out;
}
