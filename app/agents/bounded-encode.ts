/**
 * BPE encoding that cannot stall the event loop. js-tiktoken merges each pre-token (roughly: a
 * word) in time quadratic in its length: 8,000 letters without a space took ≈ 3 s, 30,000 ≈ 45 s,
 * so one chat message of repeated characters blocked the whole app for minutes. A run of more
 * than LONG_RUN_CHARS non-space characters is therefore encoded in pieces of at most
 * PIECE_BYTES UTF-8 bytes (the merge cost grows with bytes: an emoji is four). Ordinary text
 * (words, URLs, code up to LONG_RUN_CHARS characters without a space) encodes exactly as before;
 * a longer run may count a few tokens more than OpenAI's tokenizer would.
 * Used by the app (prompt budget) and by the model simulator (usage), so both count alike.
 */
/** What encodeBounded needs of a BPE encoder: js-tiktoken's Tiktoken and gpt-tokenizer both fit. */
export interface BpeEncoder {
  encode(text: string): number[];
}

/** An encoder that also turns ids back into text: the app's and the simulator's tokenizers. */
export interface BpeCodec extends BpeEncoder {
  decode(ids: number[]): string;
}

/**
 * Encode options for message content, app and simulator alike: "<|endoftext|>" typed by a user is
 * those characters, as OpenAI reads message content. The tokenizers' default throws on a special
 * token's spelling, which failed the whole chat turn with a 500.
 */
export const AS_TEXT = { disallowedSpecial: new Set<string>() };

const LONG_RUN_CHARS = 200;
const PIECE_BYTES = 64;
/** Runs that encodeBounded cuts into pieces (`g`: all of them; hasLongRun tests for one). */
const LONG_RUNS = new RegExp(`\\S{${LONG_RUN_CHARS + 1},}`, 'g');

const utf8Bytes = (codePoint: number): number =>
  codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;

/** JavaScript's `\s` (ECMAScript WhiteSpace and LineTerminator), by UTF-16 code unit. */
function isSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/**
 * True when `text` has a run that encodeBounded cuts into pieces (a plain encode could stall):
 * what LONG_RUNS matches, in one pass. As a regular expression test it retried its match from
 * every position and took about a fifth of the app's token counting on chat text.
 */
export function hasLongRun(text: string): boolean {
  if (text.length <= LONG_RUN_CHARS) return false;
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    if (isSpace(text.charCodeAt(i))) run = 0;
    else if (++run > LONG_RUN_CHARS) return true;
  }
  return false;
}

export function encodeBounded(encoder: BpeEncoder, text: string): number[] {
  if (!hasLongRun(text)) return encoder.encode(text);
  const ids: number[] = [];
  const add = (piece: string): void => {
    for (const id of encoder.encode(piece)) ids.push(id);
  };
  let done = 0;
  for (const m of text.matchAll(LONG_RUNS)) {
    if (m.index > done) add(text.slice(done, m.index));
    // Cut at code point boundaries (a split surrogate pair would encode as replacement characters).
    let pieceStart = 0;
    let bytes = 0;
    let i = 0;
    for (const ch of m[0]) {
      const size = utf8Bytes(ch.codePointAt(0) ?? 0);
      if (bytes + size > PIECE_BYTES) {
        add(m[0].slice(pieceStart, i));
        pieceStart = i;
        bytes = 0;
      }
      bytes += size;
      i += ch.length;
    }
    add(m[0].slice(pieceStart));
    done = m.index + m[0].length;
  }
  if (done < text.length) add(text.slice(done));
  return ids;
}
