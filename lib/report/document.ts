/**
 * A run's report, format-neutral: built once per run from its JSON summary (lib/report/summary.ts
 * `perfReport`, load/summary.ts `loadReport`) and laid out by one renderer per format
 * (./console.ts, ./markdown.ts).
 *
 * Text may mark **bold** and `code` (Markdown shows them, the console drops the marks) and may
 * start with ✓ or ✗ (pass/fail; Markdown shows ✅/❌). Falsy blocks and sections are left out.
 */
export type Format = 'console' | 'markdown';
type Maybe<T> = T | false | null | undefined;
const is = <T>(x: Maybe<T>): x is T => !!x;
/** A list item, optionally with sub-items. */
export type Item = string | { text: string; items: string[] };
/** A row of cells, or a line of its own across the columns (a group's caption). */
export type Row = string[] | string;

export type Block = { only?: Format } & (
  | { kind: 'text' | 'code'; text: string }
  | { kind: 'list'; items: Item[] }
  /** `align`: one letter per column, `l` or `r` (default `l`). */
  | { kind: 'table'; head?: string[]; align?: string; rows: Row[] }
  /** A list folded in Markdown; the console leaves it out. */
  | { kind: 'details'; summary: string; items: Item[] }
);

export interface Section {
  heading?: string;
  /** The console draws the heading as a banner between rules; Markdown, headed by the verdict, leaves it out. */
  banner?: boolean;
  blocks: Maybe<Block>[];
}

export interface Report {
  /** The console's banner, first. */
  title: string;
  /** The outcome, starting with ✓ or ✗: Markdown's heading, and the console's last line. */
  verdict: { heading: string; line: string };
  /** What explains the verdict: Markdown shows it right under the verdict, the console right above it. */
  outcome: Maybe<Section>[];
  /** The rest, in order: after the outcome in Markdown, before it on the console. */
  sections: Maybe<Section>[];
}

export const text = (t: string, only?: Format): Block => ({ kind: 'text', text: t, only });
export const code = (t: string): Block => ({ kind: 'code', text: t });
export const list = (items: Maybe<Item>[], only?: Format): Block => ({ kind: 'list', items: items.filter(is), only });
export function table(head: string[] | undefined, rows: Row[], align = '', only?: Format): Block {
  return { kind: 'table', head, rows, align, only };
}

/** What a format shows: the sections with a block for it, each with those blocks. */
export function sectionsFor(sections: Maybe<Section>[], format: Format): (Section & { blocks: Block[] })[] {
  const shownIn = (b: Block) => b.only ?? (b.kind === 'details' ? 'markdown' : format);
  return sections
    .filter(is)
    .map((s) => ({ ...s, blocks: s.blocks.filter(is).filter((b) => shownIn(b) === format) }))
    .filter((s) => s.blocks.length > 0);
}
