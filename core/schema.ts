// A small schema language for everything that crosses a process boundary.
// Each schema both validates unknown input and gives its TypeScript type, so a
// message type is defined once. Validation rejects unknown keys: a peer that
// sends more than the protocol names is treated as broken, not trusted.

export class SchemaError extends Error {
  constructor(
    readonly path: string,
    readonly expected: string,
  ) {
    super(`${path || 'value'}: expected ${expected}`);
  }
}

export interface Schema<T> {
  readonly describe: string;
  /** Returns the value typed, or throws SchemaError. */
  parse(value: unknown, path?: string): T;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

function schema<T>(describe: string, check: (value: unknown, path: string) => T): Schema<T> {
  return { describe, parse: (value, path = '') => check(value, path) };
}

export function str(opts: { max?: number; min?: number; pattern?: RegExp } = {}): Schema<string> {
  const max = opts.max ?? 4096;
  const min = opts.min ?? 0;
  const what = `string of ${min}..${max} chars${opts.pattern ? ` matching ${opts.pattern}` : ''}`;
  return schema(what, (v, path) => {
    if (typeof v !== 'string' || v.length > max || v.length < min) throw new SchemaError(path, what);
    if (opts.pattern && !opts.pattern.test(v)) throw new SchemaError(path, what);
    return v;
  });
}

export function int(opts: { min?: number; max?: number } = {}): Schema<number> {
  const min = opts.min ?? Number.MIN_SAFE_INTEGER;
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  const what = `integer in ${min}..${max}`;
  return schema(what, (v, path) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new SchemaError(path, what);
    return v;
  });
}

export const bool: Schema<boolean> = schema('boolean', (v, path) => {
  if (typeof v !== 'boolean') throw new SchemaError(path, 'boolean');
  return v;
});

export function literal<const L extends string | number | boolean>(...values: L[]): Schema<L> {
  const what = values.map((x) => JSON.stringify(x)).join(' | ');
  return schema(what, (v, path) => {
    if (!values.includes(v as L)) throw new SchemaError(path, what);
    return v as L;
  });
}

export function arr<T>(item: Schema<T>, opts: { max: number }): Schema<T[]> {
  const what = `array of at most ${opts.max} ${item.describe}`;
  return schema(what, (v, path) => {
    if (!Array.isArray(v) || v.length > opts.max) throw new SchemaError(path, what);
    return v.map((x, i) => item.parse(x, `${path}[${i}]`));
  });
}

export function nullable<T>(inner: Schema<T>): Schema<T | null> {
  return schema(`${inner.describe} or null`, (v, path) => (v === null ? null : inner.parse(v, path)));
}

type Shape = Record<string, Schema<unknown>>;
type Optional<T> = Schema<T> & { optional: true };
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends { optional: true } ? K : never }[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;
export type ObjectOf<S extends Shape> = { [K in RequiredKeys<S>]: Infer<S[K]> } & {
  [K in OptionalKeys<S>]?: Infer<S[K]>;
};

export function optional<T>(inner: Schema<T>): Optional<T> {
  return { ...inner, optional: true };
}

export function obj<S extends Shape>(shape: S): Schema<ObjectOf<S>> {
  const keys = Object.keys(shape);
  const what = `object {${keys.join(', ')}}`;
  return schema(what, (v, path) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new SchemaError(path, what);
    const input = v as Record<string, unknown>;
    for (const k of Object.keys(input)) {
      if (!Object.hasOwn(shape, k)) throw new SchemaError(`${path}.${k}`, 'no such field');
    }
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      const field = shape[k]!;
      if (!Object.hasOwn(input, k) || input[k] === undefined) {
        if ((field as Partial<Optional<unknown>>).optional) continue;
        throw new SchemaError(`${path}.${k}`, field.describe);
      }
      out[k] = field.parse(input[k], `${path}.${k}`);
    }
    return out as ObjectOf<S>;
  });
}

/** A string-keyed map with bounded size, e.g. counters. */
export function record<T>(value: Schema<T>, opts: { maxKeys: number; key?: RegExp }): Schema<Record<string, T>> {
  const keyPattern = opts.key ?? /^[A-Za-z0-9_.:-]{1,64}$/;
  const what = `map of at most ${opts.maxKeys} ${value.describe}`;
  return schema(what, (v, path) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new SchemaError(path, what);
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length > opts.maxKeys) throw new SchemaError(path, what);
    const out: Record<string, T> = {};
    for (const [k, x] of entries) {
      if (!keyPattern.test(k)) throw new SchemaError(`${path}.${k}`, `key matching ${keyPattern}`);
      out[k] = value.parse(x, `${path}.${k}`);
    }
    return out;
  });
}

/** A union of objects told apart by their `type` field. */
export function tagged<M extends Record<string, Schema<object>>>(
  variants: M,
): Schema<{ [K in keyof M]: Infer<M[K]> & { type: K } }[keyof M]> {
  const what = `message of type ${Object.keys(variants).join(' | ')}`;
  return schema(what, (v, path) => {
    if (typeof v !== 'object' || v === null) throw new SchemaError(path, what);
    const { type, ...rest } = v as { type?: unknown };
    if (typeof type !== 'string' || !Object.hasOwn(variants, type)) throw new SchemaError(`${path}.type`, what);
    return { type, ...variants[type]!.parse(rest, path) } as never;
  });
}
