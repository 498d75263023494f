import { existsSync, rmSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CollectSink,
  FileSink,
  FileSource,
  RecordBatch,
  Schema,
  StreamEnvironment,
  batchFromRecords,
  type EngineName,
  type Source,
  type SourceReader,
} from '../../ts/index.js';
import { BatchBuilder } from '../../ts/batch/builder.js';
import { rowReader } from '../../ts/batch/record-batch.js';
import { CsvParser } from '../../ts/connectors/csv-parser.js';
import { CsvFileReader } from '../../ts/connectors/csv-reader.js';
import { JsonlFileReader } from '../../ts/connectors/jsonl-reader.js';
import { RollingFileWriter } from '../../ts/connectors/rolling-sink.js';
import type { FilePosition, RecordFileReader } from '../../ts/connectors/text-file.js';
import { parseIsoTimestamp } from '../../ts/connectors/csv-values.js';
import { failure, onBothEngines, rng } from '../engines.js';

const fresh = (): string => mkdtempSync(join(tmpdir(), 'sluice-conn-'));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `cond` holds: as long as the machine needs (the test's timeout only catches a hang). */
async function waitFor(cond: () => boolean): Promise<void> {
  while (!cond()) await sleep(5);
}

/** Runs `source` into a JSONL file and returns its text and the job's dead-letter count. */
async function toJsonl(engine: EngineName, source: Source<object>, batchSize = 3): Promise<{ text: string; deadLetters: number }> {
  const out = join(fresh(), 'out.jsonl');
  const env = StreamEnvironment.create({ engine, batchSize });
  env.fromSource(source).sinkTo(FileSink.jsonl(out));
  const r = await env.execute();
  return { text: readFileSync(out, 'utf8'), deadLetters: r.deadLetters };
}


describe('CSV source', () => {
  const SCHEMA = { id: 'i64', n: 'i32', name: 'utf8?', note: 'utf8?', score: 'f64', ok: 'bool', at: 'timestamp' } as const;

  it('parses RFC 4180 (quotes, escaped quotes, line breaks in quotes, CRLF), empty vs null, exact i64, ISO timestamps; same on both engines', async () => {
    const dir = fresh();
    const input = join(dir, 'in.csv');
    // Columns in another order than the schema, and one the schema does not declare.
    writeFileSync(
      input,
      '\ufeffat,id,extra,n,name,note,score,ok\r\n' +
        '1000,1,x,-7,plain,"a,""b""",1.5,true\r\n' +
        '2024-05-01T12:00:00.250Z,9007199254740993,y,2147483647,"multi\r\nline, ""quoted""",,-2e3,FALSE\r\n' +
        '2024-05-01T14:00:00+02:00,-9223372036854775808,,-2147483648,"",,"3",True\r\n' +
        '\r\n' +
        '1970-01-02,42,z,0,,"",NaN,false\r\n' +
        '2024-05-01 12:00:00,9223372036854775807,"",+5,ünï 𝄞,"",-Infinity,true', // no line end at the end
    );
    const { native } = await onBothEngines((engine) => toJsonl(engine, FileSource.csv(input, SCHEMA)));
    expect(native.text.split('\n')).toEqual([
      '{"id":1,"n":-7,"name":"plain","note":"a,\\"b\\"","score":1.5,"ok":true,"at":1000}',
      '{"id":9007199254740993,"n":2147483647,"name":"multi\\r\\nline, \\"quoted\\"","note":null,"score":-2000,"ok":false,"at":1714564800250}',
      '{"id":-9223372036854775808,"n":-2147483648,"name":"","note":null,"score":3,"ok":true,"at":1714564800000}',
      '{"id":42,"n":0,"name":null,"note":"","score":null,"ok":false,"at":86400000}',
      '{"id":9223372036854775807,"n":5,"name":"ünï 𝄞","note":"","score":null,"ok":true,"at":1714564800000}',
      '',
    ]);
  });

  it('reads back what the CSV sink writes, exactly', async () => {
    const dir = fresh();
    const rows = [
      { id: 1, n: 1, name: 'a,"b"\nc', note: '', score: 0.1, ok: true, at: -5 },
      { id: 2, n: -1, name: null, note: null, score: NaN, ok: false, at: 1e12 },
    ];
    await onBothEngines(async (engine) => {
      const csv = join(dir, `rt-${engine}.csv`);
      const env = StreamEnvironment.create({ engine });
      env.fromRecords(rows, SCHEMA).sinkTo(FileSink.csv(csv));
      await env.execute();
      const back = new CollectSink();
      const env2 = StreamEnvironment.create({ engine });
      env2.fromSource(FileSource.csv(csv, SCHEMA)).sinkTo(back);
      await env2.execute();
      expect(back.records).toEqual(rows);
      return back.records;
    });
  });

  it('without a header matches columns by position; other delimiters; blank lines skipped', async () => {
    const dir = fresh();
    const semi = join(dir, 'semi.csv');
    writeFileSync(semi, '1;"x;y";2.5\n\n2;;-1\n');
    const tab = join(dir, 'tab.tsv');
    writeFileSync(tab, '1\t"x\ty"\t2.5\r\n2\t\t-1\r\n');
    const spec = { k: 'i32', s: 'utf8?', v: 'f64' } as const;
    const expected = '{"k":1,"s":"x;y","v":2.5}\n{"k":2,"s":null,"v":-1}\n';
    await onBothEngines(async (engine) => {
      const a = await toJsonl(engine, FileSource.csv(semi, spec, { header: false, delimiter: ';' }));
      const b = await toJsonl(engine, FileSource.csv(tab, spec, { header: false, delimiter: '\t' }));
      expect(a.text).toBe(expected);
      expect(b.text).toBe(expected.replace('x;y', 'x\\ty'));
      return [a, b];
    });
  });

  it('streams a file of many chunks: records, characters and CRLF split across chunk boundaries', async () => {
    const dir = fresh();
    const input = join(dir, 'big.csv');
    const random = rng(7);
    const pieces = ['a', 'é', '𝄞', ',', '"', '\n', '\r\n', ' ', 'xyz'];
    const rows: { id: number; text: string; big: bigint }[] = [];
    let csv = 'id,text,big\r\n';
    for (let i = 0; i < 40_000; i++) {
      let text = '';
      const len = Math.floor(random() * 40);
      for (let k = 0; k < len; k++) text += pieces[Math.floor(random() * pieces.length)]!;
      const big = 2n ** 62n + BigInt(i);
      rows.push({ id: i, text, big });
      csv += `${i},${/[",\r\n]/.test(text) || text === '' ? `"${text.replace(/"/g, '""')}"` : text},${big}\r\n`;
    }
    writeFileSync(input, csv);
    expect(statSync(input).size).toBeGreaterThan(2.5 * (1 << 20));
    // i64 beyond 2^53 stays exact all the way to the JSONL output.
    const expected = rows.map((r) => `{"id":${r.id},"text":${JSON.stringify(r.text)},"big":${r.big}}\n`).join('');
    await onBothEngines(async (engine) => {
      const { text } = await toJsonl(engine, FileSource.csv(input, { id: 'i32', text: 'utf8', big: 'i64' }), 4096);
      expect(text === expected).toBe(true); // (a 3 MB diff would not help)
      return text.length;
    });
  });

  it('a bad value, a null in a non-nullable field, or a malformed record names the file, line and field', async () => {
    const dir = fresh();
    const p = join(dir, 'bad.csv');
    const spec = { id: 'i64', name: 'utf8' } as const;
    const cases: [string, string][] = [
      // Line 2 holds a line break inside quotes, so the bad record starts on line 4.
      ['id,name\n1,"two\nlines"\nx,ok\n', `file '${p}', line 4, field 'id': expected an i64 (a decimal integer), got "x"`],
      ['id,name\n1,\n', `file '${p}', line 2, field 'name': is empty (null) but the field is not nullable; declare it as 'utf8?' to allow nulls, or write "" for an empty string`],
      ['id,name\n,a\n', `file '${p}', line 2, field 'id': is empty (null) but the field is not nullable; declare it as 'i64?' to allow nulls`],
      ['id,name\n1,a\n2,b,c\n', `file '${p}', line 3: malformed CSV: expected 2 fields (as many as the header has), got 3`],
      ['id,name\r\n1,ab"c\r\n', `file '${p}', line 2: malformed CSV: a quote inside unquoted field 2; quote the whole field and double the quotes inside it ("a""b")`],
      ['id,name\n1,"ab"c\n', `file '${p}', line 2: malformed CSV: unexpected character "c" after the closing quote of field 2`],
      ['id,name\n1,"abc\n2,x\n', `file '${p}', line 2: malformed CSV: a quoted field is not closed before the end of the file`],
      ['id,name\n99999999999999999999,a\n', `file '${p}', line 2, field 'id': bigint 99999999999999999999 does not fit in 64 bits`],
      ['id,name\n1.5,a\n', `file '${p}', line 2, field 'id': expected an i64 (a decimal integer), got "1.5"`],
      ['id,name\n"",a\n', `file '${p}', line 2, field 'id': expected an i64 (a decimal integer), got an empty string ("")`],
      ['name,id\nb\n', `file '${p}', line 2: malformed CSV: expected 2 fields`],
    ];
    for (const [text, message] of cases) {
      writeFileSync(p, text);
      expect(await failure(FileSource.csv(p, spec))).toContain(message);
    }
    const more: [Record<string, string>, string, string][] = [
      [{ v: 'i32' }, 'v\n2147483648\n', `line 2, field 'v': 2147483648 does not fit in an i32`],
      [{ v: 'bool' }, 'v\nyes\n', `line 2, field 'v': expected a boolean (true or false), got "yes"`],
      [{ v: 'f64' }, 'v\n0x10\n', `line 2, field 'v': expected an f64 number, got "0x10"`],
      [{ v: 'timestamp' }, 'v\n2024-02-30T00:00:00Z\n', `line 2, field 'v': expected a timestamp: integer ms since the epoch or ISO-8601 text`],
    ];
    for (const [spec2, text, message] of more) {
      writeFileSync(p, text);
      expect(await failure(FileSource.csv(p, spec2 as never))).toContain(message);
    }
  });

  it('a declared column missing from the header fails when the file is opened, naming it', async () => {
    const dir = fresh();
    const p = join(dir, 'h.csv');
    writeFileSync(p, 'id,nme\n1,a\n');
    expect(await failure(FileSource.csv(p, { id: 'i64', name: 'utf8' }))).toContain(
      `file '${p}': the CSV header has no column 'name', which the schema declares; the header has 'id', 'nme'. Rename the column or the field, or read the file with { header: false }`,
    );
    writeFileSync(p, 'id,id\n1,2\n');
    expect(await failure(FileSource.csv(p, { id: 'i64' }))).toContain(`file '${p}': the CSV header names column 'id' twice`);
    // An empty file has no header and no rows.
    writeFileSync(p, '');
    const { ts } = await onBothEngines((engine) => toJsonl(engine, FileSource.csv(p, { id: 'i64' })));
    expect(ts.text).toBe('');
  });

  it('bad options fail when the pipeline is built', () => {
    expect(() => FileSource.csv('x.csv', { a: 'i64' }, { delimiter: ';;' })).toThrow(/delimiter must be one character/);
    expect(() => FileSource.csv('x.csv', { a: 'i64' }, { delimiter: '"' })).toThrow(/delimiter must be one character other than a quote/);
    expect(() => FileSource.csv('x.csv', { a: 'int' } as never)).toThrow(/unknown type 'int'/);
    expect(() => FileSource.directory('d', { format: 'xml' as never, schema: { a: 'i64' } })).toThrow(/format must be 'jsonl' or 'csv'/);
    expect(() => FileSource.watch('d', { format: 'csv', schema: { a: 'i64' }, pollIntervalMs: 0 })).toThrow(/pollIntervalMs must be/);
    expect(() => FileSource.directory('d', { format: 'csv', schema: { a: 'i64' }, pattern: '' })).toThrow(/a file pattern is/);
    expect(() => FileSource.directory('d', { format: 'jsonl', schema: { a: 'i64' }, header: false })).toThrow(/header and delimiter are CSV options/);
  });

  it('bad records go to the dead-letter file with file, line, error and raw text, and are counted', async () => {
    const dir = fresh();
    const input = join(dir, 'mixed.csv');
    const dead = join(dir, 'dead.jsonl');
    writeFileSync(
      input,
      [
        'id,name',
        '1,a',
        'x,b', // bad value
        '2,"multi',
        'line"',
        '3,c,extra', // wrong field count
        '4,d"d', // stray quote
        '5,', // null in a non-nullable field
        '6,"f"',
        '',
      ].join('\r\n'),
    );
    const { native } = await onBothEngines(async (engine) => {
      const sink = new CollectSink();
      const env = StreamEnvironment.create({ engine, batchSize: 2 });
      env.fromSource(FileSource.csv(input, { id: 'i64', name: 'utf8' }, { deadLetterPath: dead })).sinkTo(sink);
      const r = await env.execute();
      expect(r.deadLetters).toBe(4);
      return { records: sink.records, dead: readFileSync(dead, 'utf8') };
    });
    expect(native.records).toEqual([
      { id: 1, name: 'a' },
      { id: 2, name: 'multi\r\nline' },
      { id: 6, name: 'f' },
    ]);
    const lines = native.dead.trim().split('\n').map((l) => JSON.parse(l) as { file: string; line: number; error: string; raw: string });
    expect(lines.map((l) => [l.file, l.line, l.raw])).toEqual([
      [input, 3, 'x,b'],
      [input, 6, '3,c,extra'],
      [input, 7, '4,d"d'],
      [input, 8, '5,'],
    ]);
    expect(lines[0]!.error).toBe(`file '${input}', line 3, field 'id': expected an i64 (a decimal integer), got "x"`);
    expect(lines[1]!.error).toMatch(/line 6: malformed CSV: expected 2 fields/);
  });

  it('ISO-8601 timestamps: offsets, fractions, dates; no offset means UTC', () => {
    expect(parseIsoTimestamp('2024-05-01T12:00:00Z')).toBe(Date.UTC(2024, 4, 1, 12));
    expect(parseIsoTimestamp('2024-05-01T12:00:00.123456789Z')).toBe(Date.UTC(2024, 4, 1, 12, 0, 0, 123));
    expect(parseIsoTimestamp('2024-05-01T12:00:00.5-01:30')).toBe(Date.UTC(2024, 4, 1, 13, 30, 0, 500));
    expect(parseIsoTimestamp('2024-05-01T12:00+0100')).toBe(Date.UTC(2024, 4, 1, 11));
    expect(parseIsoTimestamp('2024-05-01 12:00:00')).toBe(Date.UTC(2024, 4, 1, 12));
    expect(parseIsoTimestamp('2024-02-29')).toBe(Date.UTC(2024, 1, 29));
    expect(parseIsoTimestamp('0001-01-01T00:00:00Z')).toBe(-62135596800000);
    for (const bad of ['2023-02-29', '2024-13-01', '2024-05-01T24:00:00Z', '2024-05-01T12:00:00+25:00', 'May 1 2024', '2024-5-1', '2024-05-01T12']) {
      expect(parseIsoTimestamp(bad)).toBeNull();
    }
  });

  it('the parser gives the same records whatever the chunk boundaries', () => {
    const text = 'a,"b ""q"" \r\nc",\r\n"",x\n"d",e\r\nlast,"x""';
    const whole = records(text, text.length);
    expect(whole).toEqual([
      ['a', 'b "q" \r\nc', ''],
      ['', 'x'],
      ['d', 'e'],
      ['bad'],
    ]);
    for (let step = 1; step < 12; step++) expect(records(text, step)).toEqual(whole);

    /** Feeds `text` `step` characters at a time, parsing each record from its start again when it was incomplete. */
    function records(all: string, step: number): string[][] {
      const parser = new CsvParser(',');
      const out: string[][] = [];
      let have = Math.min(step, all.length);
      let pos = 0;
      while (pos < all.length) {
        const eof = have >= all.length;
        const s = parser.parse(all.slice(0, have), pos, eof);
        if (s.kind === 'more') {
          have = Math.min(have + step, all.length);
          continue;
        }
        out.push(s.kind === 'record' ? parser.fields.slice() : ['bad']);
        pos = s.end;
      }
      return out;
    }
  });
});

describe('directory source', () => {
  const SPEC = { id: 'i64', name: 'utf8' } as const;

  function directoryWithFiles(): string {
    const dir = fresh();
    writeFileSync(join(dir, 'b.jsonl'), '{"id":3,"name":"b1"}\n{"id":4,"name":"b2"}\n');
    writeFileSync(join(dir, 'a.jsonl'), '{"id":1,"name":"a1"}\n{"id":2,"name":"a2"}\n');
    writeFileSync(join(dir, 'c.jsonl'), '{"id":5,"name":"c1"}\n{"id":"six","name":"c2"}\nnot json\n{"id":7,"name":"c4"}\n');
    writeFileSync(join(dir, 'notes.txt'), 'not data\n');
    writeFileSync(join(dir, '_in-progress.jsonl'), '{"id":100,"name":"hidden"}\n');
    writeFileSync(join(dir, '.hidden.jsonl'), '{"id":101,"name":"hidden"}\n');
    mkdirSync(join(dir, 'sub.jsonl'));
    writeFileSync(join(dir, 'sub.jsonl', 'z.jsonl'), '{"id":102,"name":"nested"}\n');
    return dir;
  }

  it('reads every matching file in name order as one stream; bad lines dead-lettered with their file', async () => {
    const dir = directoryWithFiles();
    const dead = join(fresh(), 'dead.jsonl');
    const { native } = await onBothEngines((engine) => toJsonl(engine, FileSource.directory(dir, { format: 'jsonl', schema: SPEC, pattern: '.jsonl', deadLetterPath: dead })));
    expect(native.deadLetters).toBe(2);
    expect(native.text.trim().split('\n').map((l) => (JSON.parse(l) as { id: number }).id)).toEqual([1, 2, 3, 4, 5, 7]);
    const lines = readFileSync(dead, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { file: string; line: number; error: string });
    expect(lines.map((l) => [l.file, l.line])).toEqual([
      [join(dir, 'c.jsonl'), 2],
      [join(dir, 'c.jsonl'), 3],
    ]);
    expect(lines[0]!.error).toBe(`file '${join(dir, 'c.jsonl')}', line 2, field 'id': expected an i64, got string "six"`);
  });

  it('patterns: a glob, a RegExp, or none (every visible file); errors name the file', async () => {
    const dir = directoryWithFiles();
    const ids = async (pattern: RegExp | string | undefined, engine: EngineName): Promise<number[]> => {
      const sink = new CollectSink();
      const env = StreamEnvironment.create({ engine });
      env.fromSource(FileSource.directory(dir, { format: 'jsonl', schema: SPEC, pattern, deadLetterPath: join(fresh(), 'd.jsonl') })).sinkTo(sink);
      await env.execute();
      return sink.records.map((r) => r.id as number);
    };
    await onBothEngines(async (engine) => {
      expect(await ids('[ab]*.jsonl', engine)).toEqual([]); // glob: only * and ? are special
      expect(await ids('?.jsonl', engine)).toEqual([1, 2, 3, 4, 5, 7]);
      expect(await ids(/^[ab]\.jsonl$/g, engine)).toEqual([1, 2, 3, 4]);
      return ids(/^[ab]\.jsonl$/, engine);
    });
    // Without a pattern notes.txt is read too, and without a dead-letter file c.jsonl fails the job.
    expect(await failure(FileSource.directory(dir, { format: 'jsonl', schema: SPEC, pattern: /^[abc]\./ }))).toContain(
      `file '${join(dir, 'c.jsonl')}', line 2, field 'id': expected an i64, got string "six"`,
    );
    expect(await failure(FileSource.directory(dir, { format: 'jsonl', schema: SPEC }))).toContain(`file '${join(dir, 'c.jsonl')}', line 2`);
    expect(await failure(FileSource.directory(join(dir, 'nope'), { format: 'jsonl', schema: SPEC }))).toContain(`directory '${join(dir, 'nope')}' does not exist`);
  });

  it('CSV files: each file has its own header, checked when the file is opened', async () => {
    const dir = fresh();
    writeFileSync(join(dir, '1.csv'), 'id,name\n1,a\n');
    writeFileSync(join(dir, '2.csv'), 'name,id\r\nb,2\r\n"c\nc",3\r\n');
    writeFileSync(join(dir, '3.csv'), 'id,name\n4,d\nfour,d\n');
    const dead = join(fresh(), 'dead.jsonl');
    const { ts } = await onBothEngines((engine) => toJsonl(engine, FileSource.directory(dir, { format: 'csv', schema: SPEC, pattern: '*.csv', deadLetterPath: dead })));
    expect(ts.text).toBe('{"id":1,"name":"a"}\n{"id":2,"name":"b"}\n{"id":3,"name":"c\\nc"}\n{"id":4,"name":"d"}\n');
    expect(ts.deadLetters).toBe(1);
    writeFileSync(join(dir, '2.csv'), 'name,ident\nb,2\n');
    expect(await failure(FileSource.directory(dir, { format: 'csv', schema: SPEC, deadLetterPath: dead }))).toContain(
      `file '${join(dir, '2.csv')}': the CSV header has no column 'id'`,
    );
  });
});

describe('watched directory', () => {
  const SPEC = { id: 'i64', file: 'utf8' } as const;
  const csvFile = (name: string, from: number, n: number): string =>
    'file,id\n' + Array.from({ length: n }, (_, i) => `${name},${from + i}`).join('\n') + '\n';

  it('reads existing files, then each new file once when complete, until the job is stopped', async () => {
    const { native } = await onBothEngines(async (engine) => {
      const dir = fresh();
      writeFileSync(join(dir, 'a.csv'), csvFile('a', 0, 5));
      const sink = new CollectSink();
      const env = StreamEnvironment.create({ engine, batchSize: 4 });
      env.fromSource(FileSource.watch(dir, { format: 'csv', schema: SPEC, pollIntervalMs: 25, pattern: '.csv' })).sinkTo(sink);
      const stop = new AbortController();
      const job = env.execute('watch', { signal: stop.signal });
      const count = (): number => sink.batches.reduce((n, b) => n + b.length, 0);
      await waitFor(() => count() === 5);
      // Written at once.
      writeFileSync(join(dir, 'b.csv'), csvFile('b', 100, 7));
      // Written under a hidden name and renamed into place.
      writeFileSync(join(dir, '.c.csv.tmp'), csvFile('c', 200, 3));
      renameSync(join(dir, '.c.csv.tmp'), join(dir, 'c.csv'));
      // Written in pieces, pausing for much less than the poll interval.
      const d = csvFile('d', 300, 20);
      writeFileSync(join(dir, 'd.csv'), d.slice(0, 40));
      await sleep(5);
      appendFileSync(join(dir, 'd.csv'), d.slice(40));
      // Never complete (hidden), and not matching the pattern.
      writeFileSync(join(dir, '_e.csv'), csvFile('e', 400, 2));
      writeFileSync(join(dir, 'f.txt'), csvFile('f', 500, 2));
      await waitFor(() => count() === 35);
      writeFileSync(join(dir, 'g.csv'), csvFile('g', 600, 1));
      await waitFor(() => count() === 36);
      await sleep(100); // several polls: nothing is read twice
      stop.abort();
      const result = await job;
      expect(result.cancelled).toBe(true);
      expect(count()).toBe(36);
      const seen = sink.records.map((r) => `${String(r.file)}${String(r.id)}`).sort();
      expect(new Set(seen).size).toBe(36);
      return seen;
    });
    const expected = [
      ...Array.from({ length: 5 }, (_, i) => `a${i}`),
      ...Array.from({ length: 7 }, (_, i) => `b${100 + i}`),
      ...Array.from({ length: 3 }, (_, i) => `c${200 + i}`),
      ...Array.from({ length: 20 }, (_, i) => `d${300 + i}`),
      'g600',
    ].sort();
    expect(native).toEqual(expected);
  });

  it('stops when a collect() loop is left, while waiting for files', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'a.jsonl'), '{"id":1,"file":"a"}\n{"id":2,"file":"a"}\n');
    const env = StreamEnvironment.create({ engine: 'ts' });
    const got: unknown[] = [];
    const t0 = Date.now();
    for await (const r of env.fromSource(FileSource.watch(dir, { format: 'jsonl', schema: SPEC, pollIntervalMs: 10 })).collect()) {
      got.push(r);
      if (got.length === 2) break;
    }
    expect(got).toEqual([
      { id: 1, file: 'a' },
      { id: 2, file: 'a' },
    ]);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});

describe('rolling file sinks', () => {
  const SPEC = { id: 'i64', text: 'utf8', v: 'f64?' } as const;
  const rows = Array.from({ length: 60 }, (_, i) => ({ id: i, text: i === 30 ? 'L'.repeat(400) : 'x'.repeat((i * 7) % 23), v: i % 5 === 0 ? null : i / 4 }));
  const parts = (dir: string): string[] => readdirSync(dir).sort();

  it('by size: parts never exceed maxBytes unless one row alone does, and together equal the single file', async () => {
    const MAX = 200;
    const { native } = await onBothEngines(async (engine) => {
      const dir = fresh();
      const env = StreamEnvironment.create({ engine, batchSize: 7 });
      const s = env.fromRecords(rows, SPEC);
      s.sinkTo(FileSink.jsonl(join(dir, 'jsonl'), { rollover: { maxBytes: MAX } }));
      s.sinkTo(FileSink.csv(join(dir, 'csv'), { rollover: { maxBytes: MAX } }));
      s.sinkTo(FileSink.jsonl(join(dir, 'all.jsonl')));
      s.sinkTo(FileSink.csv(join(dir, 'all.csv')));
      await env.execute();
      const out: Record<string, string[]> = {};
      for (const format of ['jsonl', 'csv'] as const) {
        const names = parts(join(dir, format));
        expect(names).toEqual(names.map((_, i) => `part-${String(i).padStart(5, '0')}.${format}`)); // nothing in progress left
        const texts = names.map((n) => readFileSync(join(dir, format, n), 'utf8'));
        const header = format === 'csv' ? 'id,text,v\n' : '';
        const bodies = texts.map((t) => {
          expect(t.startsWith(header)).toBe(true);
          return t.slice(header.length);
        });
        texts.forEach((t, i) => {
          const lines = bodies[i]!.split('\n').length - 1;
          expect(lines).toBeGreaterThanOrEqual(1);
          if (Buffer.byteLength(t) > MAX) expect(lines).toBe(1); // a single row larger than maxBytes
          // A part is only closed when the next row would not fit.
          if (i + 1 < texts.length) expect(Buffer.byteLength(t) + Buffer.byteLength(bodies[i + 1]!.split('\n')[0]! + '\n')).toBeGreaterThan(MAX);
        });
        expect(header + bodies.join('')).toBe(readFileSync(join(dir, `all.${format}`), 'utf8'));
        out[format] = texts;
      }
      return out;
    });
    expect(native.jsonl!.length).toBeGreaterThan(5);
    expect(native.jsonl!.some((t) => t.includes('L'.repeat(400)) && Buffer.byteLength(t) > MAX)).toBe(true);
  });

  it('by time: a new part once the current one has been open intervalMs; an idle part is completed', async () => {
    /**
     * A slow source: one row per batch, 10 ms apart, pausing after row 10 until `resume()`
     * holds (the idle part's timer has fired): waiting for it, not for a guessed time, keeps
     * the test right on a busy machine; a timer that never fires shows as a hang.
     */
    function slowSource(resume: () => boolean): Source<(typeof rows)[number]> {
      const schema = Schema.from(SPEC);
      return {
        name: 'slow',
        schema,
        hasEventTime: false,
        supportsProjection: false,
        open: (): SourceReader => {
          let i = 0;
          return {
            next: async (): Promise<RecordBatch | null> => {
              if (i >= 20) return null;
              if (i === 10) {
                while (!resume()) await sleep(10);
              } else await sleep(10);
              return batchFromRecords([rows[i++]!], schema);
            },
            close: () => undefined,
          };
        },
      };
    }
    const { native } = await onBothEngines(async (engine) => {
      const dir = fresh();
      const rolled = join(dir, 'parts');
      let duringPause: string[] = [];
      const env = StreamEnvironment.create({ engine, batchSize: 1 });
      // The pause ends once a part exists and none is in progress (hidden while written).
      const s = env.fromSource(slowSource(() => (duringPause = parts(rolled)).length > 0 && !duringPause.some((n) => n.startsWith('.'))));
      s.sinkTo(FileSink.jsonl(rolled, { rollover: { intervalMs: 50 } }));
      s.sinkTo(FileSink.jsonl(join(dir, 'all.jsonl')));
      await env.execute();
      // During the pause, the timer completed the part that was open: nothing is in progress.
      expect(duringPause.length).toBeGreaterThan(0);
      expect(duringPause.filter((n) => n.startsWith('.'))).toEqual([]);
      const names = parts(rolled);
      expect(names.length).toBeGreaterThanOrEqual(3); // about 300 ms of writes, 50 ms per part
      expect(names.every((n) => /^part-\d{5}\.jsonl$/.test(n))).toBe(true);
      const joined = names.map((n) => readFileSync(join(rolled, n), 'utf8')).join('');
      expect(joined).toBe(readFileSync(join(dir, 'all.jsonl'), 'utf8'));
      return joined;
    });
    expect(native.split('\n')).toHaveLength(21);
  });

  it('rolled CSV parts read back as a directory give the records again', async () => {
    await onBothEngines(async (engine) => {
      const dir = join(fresh(), 'out');
      const env = StreamEnvironment.create({ engine, batchSize: 9 });
      env.fromRecords(rows, SPEC).sinkTo(FileSink.csv(dir, { rollover: { maxBytes: 300, intervalMs: 60_000 } }));
      await env.execute();
      const back = new CollectSink();
      const env2 = StreamEnvironment.create({ engine });
      env2.fromSource(FileSource.directory(dir, { format: 'csv', schema: SPEC })).sinkTo(back);
      await env2.execute();
      expect(back.records).toEqual(rows);
      return back.records;
    });
  });

  it('an empty stream leaves one header-only part; earlier parts are never mixed in; bad policies fail at build time', async () => {
    const dir = join(fresh(), 'nested', 'out');
    const env = StreamEnvironment.create({ engine: 'ts' });
    env.fromRecords([], SPEC).sinkTo(FileSink.csv(dir, { rollover: { maxBytes: 10 } }));
    await env.execute();
    expect(parts(dir)).toEqual(['part-00000.csv']);
    expect(readFileSync(join(dir, 'part-00000.csv'), 'utf8')).toBe('id,text,v\n');
    const again = StreamEnvironment.create({ engine: 'ts' });
    again.fromRecords(rows, SPEC).sinkTo(FileSink.csv(dir, { rollover: { maxBytes: 10 } }));
    await expect(again.execute()).rejects.toThrow(`directory '${dir}' already holds part files (part-00000.csv) from an earlier run; remove them or write to another directory`);
    // Hidden parts a killed run never published do not count: a fresh run starts over without them.
    const killed = join(fresh(), 'killed');
    mkdirSync(killed, { recursive: true });
    writeFileSync(join(killed, '.part-00000.csv.inprogress'), 'id,text,v\n1,half');
    writeFileSync(join(killed, '.part-00001.csv.pending'), 'id,text,v\n');
    const rerun = StreamEnvironment.create({ engine: 'ts' });
    rerun.fromRecords(rows, SPEC).sinkTo(FileSink.csv(killed, { rollover: { maxBytes: 1 << 20 } }));
    await rerun.execute();
    expect(readdirSync(killed)).toEqual(['part-00000.csv']);
    expect(() => FileSink.jsonl(dir, { rollover: {} })).toThrow(/rollover needs maxBytes, intervalMs or both/);
    expect(() => FileSink.jsonl(dir, { rollover: { maxBytes: 0 } })).toThrow(/maxBytes must be a whole number of bytes >= 1/);
    expect(() => FileSink.csv(dir, { rollover: { intervalMs: -1 } })).toThrow(/intervalMs must be a number of ms above 0/);
    // Without a policy the sink writes one file, as before.
    const single = join(fresh(), 'one.csv');
    const env3 = StreamEnvironment.create({ engine: 'ts' });
    env3.fromRecords(rows.slice(0, 2), SPEC).sinkTo(FileSink.csv(single));
    await env3.execute();
    expect(existsSync(single) && statSync(single).isFile()).toBe(true);
    expect(readFileSync(single, 'utf8')).toBe('id,text,v\n0,"",\n1,xxxxxxx,0.25\n');
  });
});

describe('file read positions (checkpoints)', () => {
  const schema = Schema.from({ id: 'i64', name: 'utf8' });
  /** The next `limit` records (fewer at the end of the file). */
  async function readAll(r: RecordFileReader, limit: number): Promise<unknown[]> {
    const out: unknown[] = [];
    while (out.length < limit) {
      const b = await r.read(schema, limit - out.length);
      if (b === null) break;
      const read = rowReader(b);
      for (let i = 0; i < b.length; i++) out.push(read(i));
    }
    return out;
  }
  const dir = mkdtempSync(join(tmpdir(), 'sluice-pos-'));
  const names = ['a', 'café', '日本語', 'x'];
  const csv = '\ufeffname,id\r\n' + names.map((n, i) => `"${n}\r\nline",${i}`).join('\r\n') + '\r\n' + 'last,9'; // quoted line breaks, no final line break
  const jsonl = '\ufeff' + names.map((n, i) => JSON.stringify({ id: i, name: n })).join('\n') + '\n\n' + JSON.stringify({ id: 9, name: 'last' });
  writeFileSync(join(dir, 'p.csv'), csv);
  writeFileSync(join(dir, 'p.jsonl'), jsonl);
  const open = {
    csv: (at: FilePosition | null) => new CsvFileReader(join(dir, 'p.csv'), schema, { header: true, delimiter: ',' }, null, at),
    jsonl: (at: FilePosition | null) => new JsonlFileReader(join(dir, 'p.jsonl'), null, at),
  };

  it.each(['csv', 'jsonl'] as const)('%s: a reader opened at the position of another continues exactly after its last record, at every record', async (format) => {
    const all = open[format](null);
    const whole = await readAll(all, 1000);
    await all.close();
    expect(whole).toHaveLength(5);
    for (let k = 1; k <= 5; k++) {
      const first = open[format](null);
      const head = await readAll(first, k);
      const at = first.position();
      await first.close();
      const second = open[format](at);
      const tail = await readAll(second, 1000);
      await second.close();
      expect([...head, ...tail]).toEqual(whole);
    }
  });

  it('a file shorter than the position is an error naming it', async () => {
    const r = open.jsonl({ lines: 40 });
    await expect(readAll(r, 10)).rejects.toThrow(/p\.jsonl'.*ends 3[0-9] lines before the position the checkpoint had read to/);
    await r.close();
  });
});

describe('rolling file sinks under checkpoints (two-phase commit)', () => {
  const schema = Schema.from({ n: 'i64' });
  const batch = (from: number, count: number) => {
    const b = new BatchBuilder(schema, count);
    for (let i = 0; i < count; i++) b.append({ n: from + i }, 'test', i);
    return b.finish();
  };
  const visible = (dir: string) => readdirSync(dir).filter((n) => !n.startsWith('.')).sort();

  it('publishes parts only when their checkpoint completes; a restore publishes its pending parts once and deletes later ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-roll2pc-'));
    const w1 = new RollingFileWriter(dir, 'jsonl', schema, { maxBytes: 40 }, { restoring: false });
    w1.write(batch(0, 10)); // rolls by size: several parts, none visible yet
    expect(visible(dir)).toEqual([]);
    const s1 = w1.preCommit(1);
    w1.write(batch(10, 3));
    const s2 = w1.preCommit(2);
    expect(s2.nextIndex).toBeGreaterThan(s1.nextIndex);
    w1.commit(1);
    const afterOne = visible(dir);
    expect(afterOne.length).toBe(s1.nextIndex);
    expect(afterOne.map((n) => readFileSync(join(dir, n), 'utf8')).join('')).toBe(Array.from({ length: 10 }, (_, i) => `{"n":${i}}\n`).join(''));
    w1.write(batch(13, 2)); // in progress when the process dies; checkpoint 2 never completes

    // A restore from checkpoint 1 whose commit had not happened: publish it, drop everything after.
    for (const n of readdirSync(dir)) if (n.startsWith('part-')) renameSync(join(dir, n), join(dir, `.${n}.pending`));
    const w2 = new RollingFileWriter(dir, 'jsonl', schema, { maxBytes: 40 }, { restoring: true });
    w2.restore(s1);
    expect(visible(dir)).toEqual(afterOne);
    expect(readdirSync(dir).filter((n) => n.startsWith('.'))).toEqual([]);
    w2.write(batch(10, 5));
    w2.preCommit(3);
    w2.commit(3);
    w2.close();
    const all = visible(dir);
    expect(all).toEqual(all.map((_, i) => `part-${String(i).padStart(5, '0')}.jsonl`));
    expect(all.map((n) => readFileSync(join(dir, n), 'utf8')).join('')).toBe(Array.from({ length: 15 }, (_, i) => `{"n":${i}}\n`).join(''));
    expect(readdirSync(dir).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('a restore deletes parts a lost later checkpoint had published', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-roll2pc-'));
    const w1 = new RollingFileWriter(dir, 'jsonl', schema, { maxBytes: 1000 }, { restoring: false });
    w1.write(batch(0, 2));
    const s1 = w1.preCommit(1);
    w1.commit(1);
    w1.write(batch(2, 2));
    w1.preCommit(2);
    w1.commit(2); // published, but checkpoint 2's files are lost: the job resumes from 1
    expect(visible(dir)).toEqual(['part-00000.jsonl', 'part-00001.jsonl']);
    const w2 = new RollingFileWriter(dir, 'jsonl', schema, { maxBytes: 1000 }, { restoring: true });
    w2.restore(s1);
    expect(visible(dir)).toEqual(['part-00000.jsonl']);
    w2.close();
  });
});

describe('bad input, the same on both engines', () => {
  const SPEC = { id: 'i64', name: 'utf8', x: 'f64?' } as const;

  it('invalid UTF-8 is an error naming the file and line (JSONL: and the byte), or a dead letter; never replaced', async () => {
    const dir = fresh();
    const p = join(dir, 'bad-utf8.jsonl');
    writeFileSync(p, Buffer.concat([Buffer.from('{"id":1,"name":"a"}\n{"id":2,"name":"b'), Buffer.from([0xff]), Buffer.from('"}\n{"id":3,"name":"c"}\n')]));
    const { native } = await onBothEngines((engine) => failure(FileSource.jsonl(p, SPEC), engine));
    expect(native).toContain(`: file '${p}', line 2: invalid UTF-8 at byte 18 of the line; the file must be UTF-8 text (convert it, e.g. with iconv -t UTF-8)`);
    const dead = join(dir, 'dead.jsonl');
    const out = await onBothEngines((engine) => toJsonl(engine, FileSource.jsonl(p, SPEC, { deadLetterPath: dead })));
    expect(out.native).toEqual({ text: '{"id":1,"name":"a","x":null}\n{"id":3,"name":"c","x":null}\n', deadLetters: 1 });
    const c = join(dir, 'bad-utf8.csv');
    writeFileSync(c, Buffer.concat([Buffer.from('id,name\n1,a\n2,b'), Buffer.from([0xc3, 0x28]), Buffer.from('\n')]));
    const csv = await onBothEngines((engine) => failure(FileSource.csv(c, { id: 'i64', name: 'utf8' }), engine));
    expect(csv.native).toContain(`file '${c}', line 3: invalid UTF-8 at byte 4 of the record; the file must be UTF-8 text (convert it, e.g. with iconv -t UTF-8)`);
  });

  it('a float that overflows an f64 is an error naming the field, never Infinity', async () => {
    const p = join(fresh(), 'big.jsonl');
    writeFileSync(p, '{"id":1,"name":"a","x":1.5}\n{"id":2,"name":"b","x":-1e400}\n');
    const { native } = await onBothEngines((engine) => failure(FileSource.jsonl(p, SPEC), engine));
    expect(native).toContain(`: file '${p}', line 2, field 'x': a number beyond ±1.7976931348623157e+308 does not fit in an f64 (it would be Infinity)`);
    const c = join(fresh(), 'big.csv');
    writeFileSync(c, 'id,name,x\n1,a,Infinity\n2,b,1e400\n');
    const csv = await onBothEngines((engine) => failure(FileSource.csv(c, SPEC), engine));
    expect(csv.native).toContain(`: file '${c}', line 3, field 'x': a number beyond ±1.7976931348623157e+308 does not fit in an f64 (it would be Infinity)`);
  });

  it('JSONL timestamps: integer ms, a decimal string, or ISO-8601 text (no offset: UTC); anything else names the field', async () => {
    const p = join(fresh(), 'times.jsonl');
    const lines = [
      '{"at":1714564800250}',
      '{"at":"1714564800250"}',
      '{"at":"2024-05-01T12:00:00.250Z"}',
      '{"at":"2024-05-01T14:00:00.250+02:00"}',
      '{"at":"2024-05-01 12:00:00.250"}',
      '{"at":"1970-01-02"}',
    ];
    writeFileSync(p, lines.join('\n') + '\n');
    const { native } = await onBothEngines((engine) => toJsonl(engine, FileSource.jsonl(p, { at: 'timestamp' })));
    expect(native.text).toBe('{"at":1714564800250}\n'.repeat(5) + '{"at":86400000}\n');
    for (const [bad, got] of [['"2024-02-30T00:00:00Z"', 'string "2024-02-30T00:00:00Z"'], ['"yesterday"', 'string "yesterday"'], ['true', 'boolean true']]) {
      writeFileSync(p, `{"at":1}\n{"at":${bad}}\n`);
      const out = await onBothEngines((engine) => failure(FileSource.jsonl(p, { at: 'timestamp' }), engine));
      expect(out.native).toContain(`file '${p}', line 2, field 'at': expected a timestamp: integer ms since the epoch or ISO-8601 text such as 2024-05-01T12:00:00.250Z, got ${got}`);
    }
  });

  it('a line longer than maxLineBytes is an error naming it, within a chunk or across chunks', async () => {
    const dir = fresh();
    const p = join(dir, 'long.jsonl');
    writeFileSync(p, `{"id":1,"name":"a"}\n{"id":2,"name":"${'x'.repeat(200)}"}\n`);
    const short = await onBothEngines((engine) => failure(FileSource.jsonl(p, SPEC, { maxLineBytes: 100 }), engine));
    expect(short.native).toContain(
      `file '${p}', line 2: the line is longer than maxLineBytes (100 bytes); is the file in the declared format (one record per line)? If such lines are expected, raise maxLineBytes in the source options`,
    );
    // 3 MiB without a line feed: refused once 2 MiB are buffered, not read to its end.
    const q = join(dir, 'huge.jsonl');
    writeFileSync(q, `{"id":1,"name":"a"}\n{"id":2,"name":"${'y'.repeat(3 << 20)}"}\n`);
    const huge = await onBothEngines((engine) => failure(FileSource.jsonl(q, SPEC, { maxLineBytes: 2 << 20 }), engine));
    expect(huge.native).toContain(`file '${q}', line 2: the line is longer than maxLineBytes (2097152 bytes)`);
    expect(() => FileSource.jsonl(q, SPEC, { maxLineBytes: 0 })).toThrow(/maxLineBytes must be a whole number of bytes >= 1/);
  });

  it('with a dead-letter file an over-long JSONL line is a dead letter keeping its first KiB, read past without holding it', async () => {
    const dir = fresh();
    const dead = join(dir, 'dead.jsonl');
    const read = async (p: string, maxLineBytes: number): Promise<{ text: string; letters: { line: number; error: string; raw: string }[] }> => {
      rmSync(dead, { force: true });
      const { native } = await onBothEngines(async (engine) => {
        const out = await toJsonl(engine, FileSource.jsonl(p, SPEC, { maxLineBytes, deadLetterPath: dead }));
        const letters = readFileSync(dead, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { line: number; error: string; raw: string });
        expect(letters).toHaveLength(out.deadLetters);
        return { text: out.text, letters };
      });
      return native;
    };
    // Within one chunk: between good lines, and two in a row.
    const p = join(dir, 'long.jsonl');
    const long = `{"id":2,"name":"${'x'.repeat(200)}"}`;
    writeFileSync(p, `{"id":1,"name":"a"}\n${long}\n${long}\n{"id":4,"name":"d"}\n`);
    const small = await read(p, 100);
    expect(small.text).toBe('{"id":1,"name":"a","x":null}\n{"id":4,"name":"d","x":null}\n');
    expect(small.letters.map((l) => [l.line, l.raw])).toEqual([[2, long], [3, long]]);
    expect(small.letters[0]!.error).toBe(
      `file '${p}', line 2: the line is longer than maxLineBytes (100 bytes); is the file in the declared format (one record per line)? If such lines are expected, raise maxLineBytes in the source options (the dead letter keeps its first 1024 bytes)`,
    );
    // 3 MiB across chunks, then more lines; and one as the unterminated last line.
    const q = join(dir, 'huge.jsonl');
    const huge = `{"id":2,"name":"${'y'.repeat(3 << 20)}"}`;
    writeFileSync(q, `{"id":1,"name":"a"}\n${huge}\n{"id":3,"name":"c"}\n${huge}`);
    const big = await read(q, 2 << 20);
    expect(big.text).toBe('{"id":1,"name":"a","x":null}\n{"id":3,"name":"c","x":null}\n');
    expect(big.letters.map((l) => l.line)).toEqual([2, 4]);
    expect(big.letters[0]!.raw).toBe(`${huge.slice(0, 1024)}… (${huge.length} bytes in all)`);
  });

  it('a bounded file that changes size while it is read is an error saying so (a torn last line)', async () => {
    const p = join(fresh(), 'growing.jsonl');
    const line = (i: number): string => `{"id":${i},"name":"${'n'.repeat(100)}"}\n`;
    writeFileSync(p, Array.from({ length: 20_000 }, (_, i) => line(i)).join('')); // about 2.3 MB: several chunks
    const schema = Schema.from(SPEC);
    const r = new JsonlFileReader(p, null);
    const first = await r.read(schema, 100);
    expect(first?.length).toBe(100);
    appendFileSync(p, '{"id":20000,"na'); // a writer is still appending
    let message = '';
    try {
      while ((await r.read(schema, 10_000)) !== null);
    } catch (e) {
      message = (e as Error).message;
    }
    await r.close();
    expect(message).toMatch(new RegExp(`file '${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}': the file changed size while it was read \\([0-9]+ bytes when opened, [0-9]+ bytes now`));
    // CSV alike.
    const c = join(fresh(), 'growing.csv');
    writeFileSync(c, 'id,name\n' + Array.from({ length: 20_000 }, (_, i) => `${i},${'n'.repeat(100)}\n`).join(''));
    const csvSchema = Schema.from({ id: 'i64', name: 'utf8' });
    const csvReader = new CsvFileReader(c, csvSchema, { header: true, delimiter: ',' }, null);
    expect((await csvReader.read(csvSchema, 100))?.length).toBe(100);
    appendFileSync(c, '20000,torn');
    await expect(
      (async () => {
        while ((await csvReader.read(csvSchema, 10_000)) !== null);
      })(),
    ).rejects.toThrow(/the file changed size while it was read/);
    await csvReader.close();
  });
});
