// Parsing tracefs `format` files (events/<system>/<event>/format and
// events/header_page) into field layouts, and reading fields out of raw event
// records with them. Pure: no fs, so it is unit tested on captured files.
//
// Fields differ across kernels (kfree_skb gained `reason` in 5.17 and `rx_sk`
// later), so probes ask for fields by name and treat a missing one as absent.

export interface FieldLayout {
  readonly name: string;
  /** The C type as written, e.g. "unsigned short", "__u8", "void *". */
  readonly type: string;
  readonly offset: number;
  readonly size: number;
  readonly signed: boolean;
  /** Element count for `name[N]` fields, else 0. */
  readonly arrayLength: number;
}

export interface EventFormat {
  readonly name: string;
  readonly id: number;
  readonly fields: ReadonlyMap<string, FieldLayout>;
  readonly printFmt: string;
}

const FIELD_RE = /^\s*field:\s*(.+?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(-?\d+);/;

function parseField(line: string): FieldLayout | null {
  const m = FIELD_RE.exec(line);
  if (!m) return null;
  const decl = m[1]!.trim();
  // "unsigned short common_type", "void * skbaddr", "__u8 saddr[4]", "__data_loc char[] name"
  const dm = /^(.*?)([A-Za-z_][A-Za-z0-9_]*)\s*(?:\[(\d*)\])?$/.exec(decl);
  if (!dm) return null;
  return {
    name: dm[2]!,
    type: dm[1]!.trim(),
    offset: Number(m[2]),
    size: Number(m[3]),
    signed: m[4] === '1',
    arrayLength: dm[3] ? Number(dm[3]) : 0,
  };
}

/** Parses an event's `format` file. Throws on text that is not one. */
export function parseEventFormat(text: string): EventFormat {
  const name = /^name:\s*(\S+)/m.exec(text)?.[1];
  const id = /^ID:\s*(\d+)/m.exec(text)?.[1];
  if (!name || !id) throw new Error('not a tracefs event format: no name or ID line');
  const fields = new Map<string, FieldLayout>();
  for (const line of text.split('\n')) {
    const f = parseField(line);
    if (f) fields.set(f.name, f);
  }
  const printFmt = /^print fmt:\s*(.*)$/m.exec(text)?.[1] ?? '';
  return { name, id: Number(id), fields, printFmt };
}

/** Parses events/header_page, whose lines have no name/ID: field name → layout. */
export function parseHeaderPage(text: string): { timestamp: FieldLayout; commit: FieldLayout; data: FieldLayout } {
  const fields = new Map<string, FieldLayout>();
  for (const line of text.split('\n')) {
    // "field: u64 timestamp;" has a space after the colon; same regex works.
    const f = parseField(line);
    if (f && !fields.has(f.name)) fields.set(f.name, f);
  }
  const timestamp = fields.get('timestamp');
  const commit = fields.get('commit');
  const data = fields.get('data');
  if (!timestamp || !commit || !data) throw new Error('header_page lacks timestamp, commit or data');
  return { timestamp, commit, data };
}

/**
 * The values of `__print_symbolic(REC-><field>, { 2, "NOT_SPECIFIED" }, ...)`
 * in a print fmt: how the kernel names an enum's values (drop reasons, TCP states).
 */
export function parseSymbolic(printFmt: string, field: string): Map<number, string> {
  const out = new Map<number, string>();
  const start = printFmt.indexOf(`__print_symbolic(REC->${field},`);
  if (start < 0) return out;
  // The list ends at the first ")" that is not inside a string; names have no ")".
  const end = printFmt.indexOf(')', start + 18 + field.length);
  const body = printFmt.slice(start, end < 0 ? undefined : end);
  const re = /\{\s*(-?\d+|0x[0-9a-fA-F]+)\s*,\s*"([^"]*)"\s*\}/g;
  for (let m = re.exec(body); m; m = re.exec(body)) out.set(Number(m[1]), m[2]!);
  return out;
}

/** Reads an integer field (1, 2, 4 or 8 bytes, little-endian as this kernel writes) as a number. */
export function readInt(buf: Buffer, base: number, f: FieldLayout): number {
  const o = base + f.offset;
  switch (f.size) {
    case 1:
      return f.signed ? buf.readInt8(o) : buf.readUInt8(o);
    case 2:
      return f.signed ? buf.readInt16LE(o) : buf.readUInt16LE(o);
    case 4:
      return f.signed ? buf.readInt32LE(o) : buf.readUInt32LE(o);
    case 8: {
      const lo = buf.readUInt32LE(o);
      const hi = f.signed ? buf.readInt32LE(o + 4) : buf.readUInt32LE(o + 4);
      return hi * 0x1_0000_0000 + lo;
    }
    default:
      throw new Error(`field ${f.name}: cannot read ${f.size} bytes as an integer`);
  }
}

/** Looks up fields by name; throws naming the event and field when one is required but missing. */
export function field(fmt: EventFormat, name: string): FieldLayout {
  const f = fmt.fields.get(name);
  if (!f) throw new Error(`tracepoint ${fmt.name} has no field "${name}" on this kernel`);
  return f;
}
