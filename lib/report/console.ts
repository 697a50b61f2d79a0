/**
 * A report (./document.ts) as terminal text: the title centred between "=" rules, each section
 * `Heading:` with its lines indented, tables padded to their widest cells, the outcome, and the
 * verdict as the last line.
 */
import { sectionsFor, type Block, type Report, type Row } from './document';

const RULE = '='.repeat(78);
const centre = (s: string) => `${' '.repeat(Math.max(0, Math.floor((RULE.length - s.length) / 2)))}${s}`;
const plain = (s: string) => s.replace(/\*\*|`/g, '');

function tableLines(cells: Row[], align = ''): string[] {
  const rows = cells.map((r) => (typeof r === 'string' ? plain(r) : r.map(plain)));
  const widths: number[] = [];
  for (const r of rows)
    if (typeof r !== 'string') r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  const pad = (c: string, i: number) => (align[i] === 'r' ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0));
  return rows.map((r) => (typeof r === 'string' ? r : r.map(pad).join('  ')));
}

function blockLines(b: Block): string[] {
  switch (b.kind) {
    case 'text':
      return plain(b.text).split('\n');
    case 'code':
      return b.text.split('\n').map((l) => `    ${l}`);
    case 'list':
      return b.items
        .flatMap((i) => (typeof i === 'string' ? [i] : [i.text, ...i.items.map((s) => `    - ${s}`)]))
        .map(plain);
    case 'table':
      return tableLines([...(b.head ? [b.head] : []), ...b.rows], b.align);
    case 'details':
      return [];
  }
}

export function renderConsoleReport(r: Report): string {
  const body = sectionsFor([...r.sections, ...r.outcome], 'console').flatMap((s) => [
    '',
    ...(s.heading ? (s.banner ? [RULE, centre(s.heading), RULE] : [`${s.heading}:`]) : []),
    ...s.blocks.flatMap(blockLines).map((l) => `  ${l}`.trimEnd()),
  ]);
  return ['', RULE, centre(r.title), RULE, ...body, '', r.verdict.line, ''].join('\n');
}
