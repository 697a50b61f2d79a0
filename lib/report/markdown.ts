/**
 * A report (./document.ts) as GitHub Markdown: the verdict as the heading, then the outcome and the
 * sections (`###`); tables with escaped pipes, details folded.
 */
import { sectionsFor, type Block, type Item, type Report } from './document';

/** ✓/✗ at the start: ✅/❌. A newline would end a table row or a list item. */
const inline = (s: string) => s.replace(/^✓/, '✅').replace(/^✗/, '❌').replace(/\n/g, ' ');
const item = (s: string, indent = '') => `${indent}- ${inline(s)}`;
const list = (items: Item[]) =>
  items
    .flatMap((i) => (typeof i === 'string' ? [item(i)] : [item(i.text), ...i.items.map((s) => item(s, '  '))]))
    .join('\n');
const row = (cells: string[]) => `| ${cells.map((c) => inline(c).replace(/\|/g, '\\|')).join(' | ')} |`;

function block(b: Block): string {
  switch (b.kind) {
    case 'text':
      return inline(b.text);
    case 'code':
      return `\`\`\`\n${b.text}\n\`\`\``;
    case 'list':
      return list(b.items);
    case 'table': {
      const head = b.head ?? (b.rows.find((r) => typeof r !== 'string') ?? []).map(() => '');
      const rule = `|${head.map((_, i) => (b.align?.[i] === 'r' ? '--:' : '---')).join('|')}|`;
      return [row(head), rule, ...b.rows.map((r) => row(typeof r === 'string' ? [r] : r))].join('\n');
    }
    case 'details':
      return `<details><summary>${b.summary}</summary>\n\n${list(b.items)}\n\n</details>`;
  }
}

export function renderMarkdownReport(r: Report): string {
  const sections = sectionsFor([...r.outcome, ...r.sections], 'markdown');
  const body = sections.flatMap((s) => [
    ...(s.heading && !s.banner ? [`### ${s.heading}`] : []),
    ...s.blocks.map(block),
  ]);
  return `${[`## ${inline(r.verdict.heading)}`, ...body].join('\n\n')}\n`;
}
