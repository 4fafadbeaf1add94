// The schemas of everything that crosses a process boundary (commands, messages, requests, probe options,
// CLI flags), written once: each gives both the check of unknown input and its TypeScript type. The checking is
// Valibot's (strictObject, variant, maxLength, ...); this thin adapter keeps one small vocabulary for the tree and
// one error type that names the path and what was expected. Objects reject unknown keys: a peer that sends more
// than the protocol names is treated as broken, not trusted. Rows are not checked here: their per-cell check is
// hand-written (ipc/protocol.ts rowTupleCheck) because it runs on every row.

import * as v from 'valibot';

export class SchemaError extends Error {
  constructor(
    readonly path: string,
    readonly expected: string,
  ) {
    super(`${path || 'value'}: expected ${expected}`);
  }
}

type Valibot<T> = v.GenericSchema<unknown, T>;

export interface Schema<T> {
  readonly describe: string;
  /** The Valibot schema behind it, for composing. */
  readonly valibot: Valibot<T>;
  /** Returns the value typed, or throws SchemaError. */
  parse(value: unknown, path?: string): T;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

function keyOf(item: { key?: unknown }): string {
  return typeof item.key === 'number' ? `[${item.key}]` : `.${String(item.key)}`;
}

function schema<T>(describe: string, valibot: Valibot<T>): Schema<T> {
  return {
    describe,
    valibot,
    parse: (value, path = '') => {
      const result = v.safeParse(valibot, value, { abortEarly: true });
      if (result.success) return result.output;
      const issue = result.issues[0];
      const where = path + (issue.path ?? []).map(keyOf).join('');
      const unknownKey = issue.type === 'strict_object' && issue.expected === 'never';
      throw new SchemaError(where, unknownKey ? 'no such field' : issue.message);
    },
  };
}

/** A value checked by hand (no copy), e.g. values checked further by their receiver. */
export function custom<T>(describe: string, check: (value: unknown) => boolean): Schema<T> {
  return schema(describe, v.custom<T>(check, describe) as unknown as Valibot<T>);
}

export function str(opts: { max?: number; min?: number; pattern?: RegExp } = {}): Schema<string> {
  const max = opts.max ?? 4096;
  const min = opts.min ?? 0;
  const what = `string of ${min}..${max} chars${opts.pattern ? ` matching ${opts.pattern}` : ''}`;
  const base = v.pipe(v.string(what), v.minLength(min, what), v.maxLength(max, what));
  return schema(what, opts.pattern ? v.pipe(base, v.regex(opts.pattern, what)) : base);
}

export function int(opts: { min?: number; max?: number } = {}): Schema<number> {
  const min = opts.min ?? Number.MIN_SAFE_INTEGER;
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  const what = `integer in ${min}..${max}`;
  return schema(what, v.pipe(v.number(what), v.integer(what), v.minValue(min, what), v.maxValue(max, what)));
}

export const bool: Schema<boolean> = schema('boolean', v.boolean('boolean'));

export function literal<const L extends string | number | boolean>(...values: L[]): Schema<L> {
  const what = values.map((x) => JSON.stringify(x)).join(' | ');
  return schema(what, v.picklist(values as unknown as v.PicklistOptions, what) as unknown as Valibot<L>);
}

export function arr<T>(item: Schema<T>, opts: { max: number }): Schema<T[]> {
  const what = `array of at most ${opts.max} ${item.describe}`;
  return schema(what, v.pipe(v.array(item.valibot, what), v.maxLength(opts.max, what)));
}

export function nullable<T>(inner: Schema<T>): Schema<T | null> {
  return schema(`${inner.describe} or null`, v.nullable(inner.valibot));
}

type Shape = Record<string, Schema<unknown>>;
type Optional<T> = Schema<T> & { optional: true };
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends { optional: true } ? K : never }[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;
export type ObjectOf<S extends Shape> = { [K in RequiredKeys<S>]: Infer<S[K]> } & {
  [K in OptionalKeys<S>]?: Infer<S[K]>;
};

export function optional<T>(inner: Schema<T>): Optional<T> {
  return { ...schema(inner.describe, v.optional(inner.valibot) as unknown as Valibot<T>), optional: true };
}

function entries(shape: Shape): v.ObjectEntries {
  return Object.fromEntries(Object.entries(shape).map(([k, s]) => [k, s.valibot])) as v.ObjectEntries;
}

export function obj<S extends Shape>(shape: S): Schema<ObjectOf<S>> & { readonly shape: S } {
  const what = `object {${Object.keys(shape).join(', ')}}`;
  return { ...schema(what, v.strictObject(entries(shape), what) as unknown as Valibot<ObjectOf<S>>), shape };
}

/** A string-keyed map with bounded size, e.g. counters. */
export function record<T>(value: Schema<T>, opts: { maxKeys: number; key?: RegExp }): Schema<Record<string, T>> {
  const keyPattern = opts.key ?? /^[A-Za-z0-9_.:-]{1,64}$/;
  const what = `map of at most ${opts.maxKeys} ${value.describe}`;
  return schema(
    what,
    v.pipe(
      v.record(v.pipe(v.string(), v.regex(keyPattern, `key matching ${keyPattern}`)), value.valibot, what),
      v.check((m) => Object.keys(m).length <= opts.maxKeys, what),
    ) as unknown as Valibot<Record<string, T>>,
  );
}

/** A union of objects told apart by their `type` field. */
export function tagged<M extends Record<string, Schema<object> & { readonly shape: Shape }>>(
  variants: M,
): Schema<{ [K in keyof M]: Infer<M[K]> & { type: K } }[keyof M]> {
  const what = `message of type ${Object.keys(variants).join(' | ')}`;
  const options = Object.entries(variants).map(([type, s]) => v.strictObject({ type: v.literal(type), ...entries(s.shape) }, what));
  return schema(what, v.variant('type', options as never, what) as never);
}
