/**
 * Schemas: a record type declared as an object of field name to column type, e.g.
 * `{ auction: 'i64', price: 'f64', dateTime: 'timestamp', channel: 'utf8' }`.
 * A trailing `?` (`'utf8?'`) declares a nullable field; other fields reject nulls.
 */

export type DataType = 'i32' | 'i64' | 'f64' | 'bool' | 'utf8' | 'timestamp';
export type FieldType = DataType | `${DataType}?`;
export type SchemaSpec = Readonly<Record<string, FieldType>>;

/** The JS value of a column type. i64 and timestamp values are numbers, exact within ±2^53. */
export type ValueOf<T extends FieldType> = T extends `${infer B extends DataType}?`
  ? BaseValue<B> | null
  : T extends DataType
    ? BaseValue<T>
    : never;

type BaseValue<T extends DataType> = T extends 'utf8' ? string : T extends 'bool' ? boolean : number;

/** The record type inferred from a schema declaration. */
export type RecordOf<S extends SchemaSpec> = { -readonly [K in keyof S]: ValueOf<S[K]> };

export interface Field {
  readonly name: string;
  readonly type: DataType;
  readonly nullable: boolean;
}

export const DATA_TYPES: readonly DataType[] = ['i32', 'i64', 'f64', 'bool', 'utf8', 'timestamp'];

/** A parsed schema: ordered fields with an index by name. */
export class Schema {
  readonly fields: readonly Field[];
  private readonly byName: Map<string, number>;

  constructor(fields: readonly Field[]) {
    this.fields = fields;
    this.byName = new Map(fields.map((f, i) => [f.name, i]));
    if (this.byName.size !== fields.length) {
      throw new Error(`schema has a duplicate field name: ${fields.map((f) => f.name).join(', ')}`);
    }
  }

  static from(spec: SchemaSpec | Schema): Schema {
    if (spec instanceof Schema) return spec;
    if (spec === null || typeof spec !== 'object') {
      throw new TypeError('a schema is an object of field name to type, e.g. { price: "f64" }');
    }
    const fields: Field[] = [];
    for (const [name, t] of Object.entries(spec)) {
      const nullable = typeof t === 'string' && t.endsWith('?');
      const base = (nullable ? t.slice(0, -1) : t) as DataType;
      if (!DATA_TYPES.includes(base)) {
        throw new TypeError(
          `field '${name}' has unknown type '${String(t)}'; use one of ${DATA_TYPES.join(', ')} (append '?' for nullable)`,
        );
      }
      fields.push({ name, type: base, nullable });
    }
    return new Schema(fields);
  }

  get length(): number {
    return this.fields.length;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  indexOf(name: string): number {
    const i = this.byName.get(name);
    if (i === undefined) {
      throw new Error(`no field '${name}' in schema; fields are: ${this.names().join(', ')}`);
    }
    return i;
  }

  field(name: string): Field {
    return this.fields[this.indexOf(name)]!;
  }

  names(): string[] {
    return this.fields.map((f) => f.name);
  }

  toSpec(): Record<string, FieldType> {
    const out: Record<string, FieldType> = {};
    for (const f of this.fields) out[f.name] = f.nullable ? `${f.type}?` : f.type;
    return out;
  }

  toString(): string {
    return `{ ${this.fields.map((f) => `${f.name}: ${f.type}${f.nullable ? '?' : ''}`).join(', ')} }`;
  }

  equals(other: Schema): boolean {
    return (
      this.fields.length === other.fields.length &&
      this.fields.every((f, i) => {
        const o = other.fields[i]!;
        return f.name === o.name && f.type === o.type && f.nullable === o.nullable;
      })
    );
  }
}
