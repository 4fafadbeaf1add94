// The row path inside the renderer, kept cheap per frame at 10,000 rows a second:
// a ring that holds a stream probe's newest rows and never copies on append, a
// filtered view that tests only the rows that arrived since the last frame, and
// a sorted view that sorts only those and merges them in (one linear pass per
// frame, never a re-sort of 100,000 rows). Every row has a sequence number (its
// arrival order), so a view knows which rows are new and which left the ring.
// Hand-written: @tanstack/table-core re-derives its sorted model from the whole
// data array whenever the data changes, which is exactly the per-frame cost this
// avoids. Pure (no DOM): unit tested in test/unit/rows.test.ts.

/** What a table reads: arrays satisfy it too. */
export interface RowList<Row> {
  readonly length: number;
  at(index: number): Row | undefined;
}

/** Rows numbered by arrival: `start` is the oldest still held, `end` one past the newest. */
export interface RowSource<Row> {
  readonly start: number;
  readonly end: number;
  bySeq(seq: number): Row;
}

/** A bounded ring of the newest `capacity` rows; the oldest make room (counted by the caller from `push`'s answer). */
export class RowRing<Row> implements RowList<Row>, RowSource<Row>, Iterable<Row> {
  private readonly buf: (Row | undefined)[];
  private head = 0;
  length = 0;
  start = 0;

  constructor(readonly capacity: number) {
    // Allocated once: appends write a slot, they never grow or copy the array.
    this.buf = new Array<Row | undefined>(capacity).fill(undefined);
  }

  get end(): number {
    return this.start + this.length;
  }

  /** Appends; returns true when the oldest row was dropped to make room. */
  push(row: Row): boolean {
    if (this.length < this.capacity) {
      this.buf[(this.head + this.length) % this.capacity] = row;
      this.length++;
      return false;
    }
    this.buf[this.head] = row;
    this.head = (this.head + 1) % this.capacity;
    this.start++;
    return true;
  }

  at(index: number): Row | undefined {
    const i = index < 0 ? index + this.length : index;
    return i >= 0 && i < this.length ? this.buf[(this.head + i) % this.capacity] : undefined;
  }

  bySeq(seq: number): Row {
    return this.buf[(this.head + seq - this.start) % this.capacity]!;
  }

  /** Forgets every row; sequence numbers go on, so views see the rows as gone. */
  clear(): void {
    this.start = this.end;
    this.length = 0;
    this.head = 0;
    this.buf.fill(undefined);
  }

  toArray(): Row[] {
    const out = new Array<Row>(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.buf[(this.head + i) % this.capacity]!;
    return out;
  }

  *[Symbol.iterator](): Iterator<Row> {
    for (let i = 0; i < this.length; i++) yield this.buf[(this.head + i) % this.capacity]!;
  }
}

/** A fixed array as a source: a new array is a new source (an interval probe's table, a paused snapshot). */
export function arraySource<Row>(rows: readonly Row[]): RowSource<Row> {
  return { start: 0, end: rows.length, bySeq: (seq) => rows[seq]! };
}

/** Rows of a source that pass a test, in arrival order; each frame tests only the new rows. */
export class FilteredView<Row> implements RowList<Row> {
  private rows: Row[] = [];
  private seqs: number[] = [];
  private head = 0;
  private tested = 0;
  private source: RowSource<Row> | null = null;
  private test: ((row: Row) => boolean) | null = null;
  /** Changes whenever the view starts over (a new source or test): a sorted view then starts over too. */
  generation = 0;
  /** Rows of the source the test turned down, among those held. */
  rejected = 0;
  private rejectedSeqs: number[] = [];
  private rejectedHead = 0;

  update(source: RowSource<Row>, test: ((row: Row) => boolean) | null): this {
    if (source !== this.source || test !== this.test) {
      this.source = source;
      this.test = test;
      this.rows = [];
      this.seqs = [];
      this.head = 0;
      this.rejectedSeqs = [];
      this.rejectedHead = 0;
      this.tested = source.start;
      this.generation++;
    }
    // Rows that left the source leave the view: they are the oldest, at the front.
    while (this.head < this.seqs.length && this.seqs[this.head]! < source.start) this.head++;
    while (this.rejectedHead < this.rejectedSeqs.length && this.rejectedSeqs[this.rejectedHead]! < source.start) this.rejectedHead++;
    // Compaction now and then: amortized O(1) per row.
    if (this.head > 4096 && this.head * 2 > this.rows.length) {
      this.rows = this.rows.slice(this.head);
      this.seqs = this.seqs.slice(this.head);
      this.head = 0;
    }
    if (this.rejectedHead > 4096 && this.rejectedHead * 2 > this.rejectedSeqs.length) {
      this.rejectedSeqs = this.rejectedSeqs.slice(this.rejectedHead);
      this.rejectedHead = 0;
    }
    for (let s = Math.max(this.tested, source.start); s < source.end; s++) {
      const row = source.bySeq(s);
      if (!test || test(row)) {
        this.rows.push(row);
        this.seqs.push(s);
      } else this.rejectedSeqs.push(s);
    }
    this.tested = source.end;
    this.rejected = this.rejectedSeqs.length - this.rejectedHead;
    return this;
  }

  get length(): number {
    return this.rows.length - this.head;
  }

  at(index: number): Row | undefined {
    const i = index < 0 ? index + this.length : index;
    return i >= 0 && i < this.length ? this.rows[this.head + i] : undefined;
  }

  seqAt(index: number): number {
    return this.seqs[this.head + index]!;
  }

  toArray(): Row[] {
    return this.rows.slice(this.head);
  }
}

export type Sort = { key: string; dir: 1 | -1 } | null;

/** A filtered view sorted by one column (ties in arrival order), kept sorted by merging each frame's new rows in. */
export class SortedView<Row> implements RowList<Row> {
  private rows: Row[] = [];
  private seqs: number[] = [];
  private merged = -1;
  /** The smallest sequence number held: while it is still in the source, nothing needs to leave. */
  private lowest = Infinity;
  private generation = -1;
  private sort: Sort = null;

  /** The view to show: `from` itself when there is no sort. */
  update(from: FilteredView<Row>, sort: Sort): RowList<Row> {
    if (!sort) {
      this.sort = null;
      return from;
    }
    const k = sort.key as keyof Row;
    const dir = sort.dir;
    const cmp = (a: Row, sa: number, b: Row, sb: number) => {
      const x = a[k];
      const y = b[k];
      return x < y ? -dir : x > y ? dir : sa - sb;
    };
    const restart = from.generation !== this.generation || !this.sort || this.sort.key !== sort.key || this.sort.dir !== sort.dir;
    if (restart) {
      this.generation = from.generation;
      this.sort = sort;
      this.rows = [];
      this.seqs = [];
      this.merged = -1;
      this.lowest = Infinity;
    }
    // The rows that arrived since the last merge are at the end of `from`.
    let first = from.length;
    while (first > 0 && from.seqAt(first - 1) > this.merged) first--;
    const fresh: number[] = [];
    for (let i = first; i < from.length; i++) fresh.push(i);
    const batch = fresh.map((i) => ({ row: from.at(i)!, seq: from.seqAt(i) }));
    batch.sort((a, b) => cmp(a.row, a.seq, b.row, b.seq));
    if (batch.length) this.merged = batch.reduce((m, b) => Math.max(m, b.seq), this.merged);
    // Rows that left the filtered view (the ring dropped them) leave this one: the oldest still held there is its first.
    const oldest = from.length ? from.seqAt(0) : Infinity;
    const stale = this.lowest < oldest && this.seqs.length > 0;
    if (!batch.length && !stale) return this;
    // One pass: merge the sorted batch in, leave out rows that left the source.
    const rows: Row[] = [];
    const seqs: number[] = [];
    let i = 0;
    let j = 0;
    while (i < this.rows.length || j < batch.length) {
      const takeOld = j >= batch.length || (i < this.rows.length && cmp(this.rows[i]!, this.seqs[i]!, batch[j]!.row, batch[j]!.seq) <= 0);
      if (takeOld) {
        if (this.seqs[i]! >= oldest) {
          rows.push(this.rows[i]!);
          seqs.push(this.seqs[i]!);
        }
        i++;
      } else {
        if (batch[j]!.seq >= oldest) {
          rows.push(batch[j]!.row);
          seqs.push(batch[j]!.seq);
        }
        j++;
      }
    }
    this.rows = rows;
    this.seqs = seqs;
    let lowest = Infinity;
    for (const s of seqs) if (s < lowest) lowest = s;
    this.lowest = lowest;
    return this;
  }

  get length(): number {
    return this.rows.length;
  }

  at(index: number): Row | undefined {
    return this.rows.at(index);
  }
}

/** Every row of a list, as an array (exports, copies). */
export function listToArray<Row>(list: RowList<Row>): Row[] {
  if (Array.isArray(list)) return list as Row[];
  const out = new Array<Row>(list.length);
  for (let i = 0; i < list.length; i++) out[i] = list.at(i)!;
  return out;
}
