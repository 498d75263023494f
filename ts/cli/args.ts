/** A small, strict argument parser: known options only, so a typo is an error, not a silent default. */

export interface OptionSpec {
  readonly name: string;
  readonly value?: string; // placeholder when the option takes a value
  /** The value may be left out: the next argument is taken as it only when it matches. */
  readonly optionalValue?: RegExp;
  readonly help: string;
}

export interface Parsed {
  readonly positional: string[];
  readonly options: Map<string, string | true>;
  /** Everything after `--`, for the pipeline. */
  readonly rest: string[];
}

export class UsageError extends Error {}

/** Option `name` as a whole number >= 1, or undefined when it is not given. */
export function wholeOption(options: ReadonlyMap<string, string | true>, name: string): number | undefined {
  const v = options.get(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${name} must be a whole number >= 1, got '${String(v)}'`);
  return n;
}

export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[]): Parsed {
  const positional: string[] = [];
  const options = new Map<string, string | true>();
  const byName = new Map(specs.map((s) => [s.name, s]));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return { positional, options, rest: argv.slice(i + 1) };
    if (a.startsWith('--')) {
      const [name, inline] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
      const spec = byName.get(name);
      if (spec === undefined) throw new UsageError(`unknown option --${name}`);
      if (spec.value === undefined) {
        if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
        options.set(name, true);
      } else if (spec.optionalValue !== undefined && inline === undefined && !spec.optionalValue.test(argv[i + 1] ?? '')) {
        options.set(name, true);
      } else {
        const v = inline ?? argv[++i];
        if (v === undefined) throw new UsageError(`--${name} needs a value ${spec.value}`);
        options.set(name, v);
      }
    } else positional.push(a);
  }
  return { positional, options, rest: [] };
}

export function usage(command: string, synopsis: string, description: string, specs: readonly OptionSpec[]): string {
  const width = Math.max(...specs.map((s) => s.name.length + (s.value === undefined ? 0 : s.value.length + 1)), 10) + 4;
  const lines = specs.map((s) => `  --${`${s.name}${s.value === undefined ? '' : ` ${s.value}`}`.padEnd(width)}${s.help}`);
  return `Usage: sluice ${command} ${synopsis}\n\n${description}\n\nOptions:\n${lines.join('\n')}\n`;
}
