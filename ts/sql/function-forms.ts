/**
 * SQL's keyword forms of two functions, which dt-sql-parser's Flink grammar does not parse:
 * `EXTRACT(unit FROM e)` and `SUBSTRING(s FROM a [FOR b])`. Before parsing, the text is
 * rewritten in place, keeping its length and every other position: `EXTRACT(HOUR FROM ts)`
 * becomes `HOUR(ts)` (the function Flink defines as that EXTRACT) padded with spaces, and the
 * FROM / FOR of SUBSTRING become commas. String literals, quoted names and comments are left
 * alone.
 */

/** The function each EXTRACT unit is (Flink: EXTRACT(DOW FROM t) = DAYOFWEEK(t), ...). */
const UNIT_FUNCTIONS: Readonly<Record<string, string>> = {
  YEAR: 'YEAR',
  QUARTER: 'QUARTER',
  MONTH: 'MONTH',
  WEEK: 'WEEK',
  DAY: 'DAYOFMONTH',
  DOY: 'DAYOFYEAR',
  DOW: 'DAYOFWEEK',
  HOUR: 'HOUR',
  MINUTE: 'MINUTE',
  SECOND: 'SECOND',
};

/** For each offset of `sql`: true where it is SQL code (not a string, quoted name or comment). */
export function codeMask(sql: string): Uint8Array {
  const m = new Uint8Array(sql.length).fill(1);
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    let end = -1;
    if (c === "'" || c === '`' || c === '"') {
      end = i + 1;
      for (;;) {
        const j = sql.indexOf(c, end);
        if (j === -1) {
          end = sql.length;
          break;
        }
        if (sql[j + 1] === c) end = j + 2;
        else {
          end = j + 1;
          break;
        }
      }
    } else if (c === '-' && sql[i + 1] === '-') {
      const j = sql.indexOf('\n', i);
      end = j === -1 ? sql.length : j;
    } else if (c === '/' && sql[i + 1] === '*') {
      const j = sql.indexOf('*/', i + 2);
      end = j === -1 ? sql.length : j + 2;
    }
    if (end === -1) i++;
    else {
      m.fill(0, i, end);
      i = end;
    }
  }
  return m;
}

function pad(s: string, length: number): string {
  return s + ' '.repeat(length - s.length);
}

/** The text with EXTRACT(unit FROM e) and SUBSTRING(s FROM a FOR b) in their function forms, positions kept. */
export function rewriteFunctionForms(sql: string): string {
  if (!/\b(EXTRACT|SUBSTRING)\s*\(/i.test(sql)) return sql;
  const code = codeMask(sql);
  let out = sql;
  for (const m of sql.matchAll(/\bEXTRACT(\s*\(\s*)(\w+)(\s+FROM\s)/gi)) {
    const fn = UNIT_FUNCTIONS[m[2]!.toUpperCase()];
    if (!code[m.index] || fn === undefined) continue;
    const len = m[0].length;
    out = out.slice(0, m.index) + pad(`${fn}(`, len) + out.slice(m.index + len);
  }
  for (const m of sql.matchAll(/\bSUBSTRING\s*\(/gi)) {
    if (!code[m.index]) continue;
    // FROM and FOR at this call's own depth become commas.
    let depth = 0;
    for (let i = m.index + m[0].length - 1; i < sql.length; i++) {
      if (!code[i]) continue;
      const c = sql[i]!;
      if (c === '(') depth++;
      else if (c === ')') {
        if (--depth === 0) break;
      } else if (depth === 1 && /[A-Za-z]/.test(c) && !/\w/.test(sql[i - 1] ?? ' ')) {
        const word = /^[A-Za-z]+/.exec(sql.slice(i))![0];
        if (/^(FROM|FOR)$/i.test(word)) out = out.slice(0, i) + pad(',', word.length) + out.slice(i + word.length);
        i += word.length - 1;
      }
    }
  }
  return out;
}
