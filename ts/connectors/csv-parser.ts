/**
 * An incremental RFC 4180 record parser over text that arrives in chunks. `parse(text, start,
 * eof)` reads one record starting at `start`: fields separated by the delimiter, ended by LF
 * or CRLF; a field in double quotes may hold delimiters, quotes (doubled: `""`) and line
 * breaks. When the text ends inside a record and more may follow, the caller appends the
 * next chunk and parses again from the same start, so no state survives between calls.
 *
 * Each field remembers whether it was quoted: an empty unquoted field is a null, `""` is
 * the empty string.
 */

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

export type CsvStep =
  /** A record: its fields are in `fields`/`quoted`; the next record starts at `end`. */
  | { readonly kind: 'record'; readonly end: number }
  /** The text ends inside the record: append more text and parse again from the same start. */
  | { readonly kind: 'more' }
  /** A malformed record; parsing resumes at `end` (after the line where the problem is). */
  | { readonly kind: 'bad'; readonly end: number; readonly problem: string };

const MORE: CsvStep = { kind: 'more' };

export class CsvParser {
  /** The fields of the last record parsed. */
  readonly fields: string[] = [];
  /** Whether each of those fields was quoted. */
  readonly quoted: boolean[] = [];
  private readonly delim: number;

  constructor(delimiter: string) {
    this.delim = delimiter.charCodeAt(0);
  }

  parse(text: string, start: number, eof: boolean): CsvStep {
    const fields = this.fields;
    const quoted = this.quoted;
    fields.length = 0;
    quoted.length = 0;
    const n = text.length;
    const delim = this.delim;
    let p = start;
    for (;;) {
      if (p < n && text.charCodeAt(p) === QUOTE) {
        // Quoted field: runs to the next quote that is not doubled.
        let value = '';
        let seg = p + 1;
        for (;;) {
          const q = text.indexOf('"', seg);
          if (q < 0) {
            if (!eof) return MORE;
            return { kind: 'bad', end: n, problem: 'a quoted field is not closed before the end of the file (an opening quote runs to the next quote, across lines)' };
          }
          if (q + 1 >= n && !eof) return MORE; // a doubled quote may continue in the next chunk
          if (text.charCodeAt(q + 1) === QUOTE) {
            value += text.slice(seg, q + 1);
            seg = q + 2;
            continue;
          }
          value += text.slice(seg, q);
          p = q + 1;
          break;
        }
        fields.push(value);
        quoted.push(true);
        if (p >= n) {
          if (!eof) return MORE;
          return { kind: 'record', end: n };
        }
        const c = text.charCodeAt(p);
        if (c === delim) {
          p++;
          continue;
        }
        if (c === LF) return { kind: 'record', end: p + 1 };
        if (c === CR) {
          if (p + 1 >= n && !eof) return MORE;
          if (p + 1 >= n) return { kind: 'record', end: n };
          if (text.charCodeAt(p + 1) === LF) return { kind: 'record', end: p + 2 };
        }
        return this.bad(text, p, eof, `unexpected ${describeChar(text, p)} after the closing quote of field ${fields.length}; a quoted field must end at a delimiter or the end of the line (write a quote inside quotes as "")`);
      }
      // Unquoted field: runs to the delimiter or the end of the line; it may not hold quotes.
      let i = p;
      let c = -1;
      while (i < n) {
        c = text.charCodeAt(i);
        if (c === delim || c === LF || c === QUOTE) break;
        i++;
      }
      if (i >= n) {
        if (!eof) return MORE;
        fields.push(stripCr(text, p, n));
        quoted.push(false);
        return { kind: 'record', end: n };
      }
      if (c === QUOTE) {
        return this.bad(text, i, eof, `a quote inside unquoted field ${fields.length + 1}; quote the whole field and double the quotes inside it ("a""b")`);
      }
      fields.push(c === LF ? stripCr(text, p, i) : text.slice(p, i));
      quoted.push(false);
      if (c === LF) return { kind: 'record', end: i + 1 };
      p = i + 1;
    }
  }

  /** A malformed record: skip to the end of the line where the problem is. */
  private bad(text: string, at: number, eof: boolean, problem: string): CsvStep {
    const nl = text.indexOf('\n', at);
    if (nl < 0 && !eof) return MORE;
    return { kind: 'bad', end: nl < 0 ? text.length : nl + 1, problem };
  }
}

/** text[from, to) without a trailing CR (the CR of a CRLF line end). */
function stripCr(text: string, from: number, to: number): string {
  return to > from && text.charCodeAt(to - 1) === CR ? text.slice(from, to - 1) : text.slice(from, to);
}

function describeChar(text: string, i: number): string {
  const c = text[i]!;
  return c === '\r' ? 'a carriage return' : `character ${JSON.stringify(c)}`;
}
