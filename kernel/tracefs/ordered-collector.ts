// Events from several CPUs' ring buffers come per CPU, not in time order: the
// collector gathers them across CPUs, hands out those up to a horizon sorted by
// timestamp, and holds the later ones for the next round (a CPU read earlier
// may still have older events coming). Bounded: the excess is counted as shed.

export class OrderedCollector<E extends { tsNs: number }> {
  private batch: E[] = [];
  /** Events shed because more than maxHeld were held back. */
  shed = 0;

  constructor(private readonly maxHeld = 100_000) {}

  add(event: E): void {
    this.batch.push(event);
  }

  /** Every event up to `horizonNs`, sorted by time; the later ones are held. */
  take(horizonNs: number): E[] {
    const out = this.batch;
    out.sort((a, b) => a.tsNs - b.tsNs);
    let end = out.length;
    while (end > 0 && out[end - 1]!.tsNs > horizonNs) end--;
    const later = out.splice(end);
    if (later.length > this.maxHeld) {
      this.shed += later.length - this.maxHeld;
      later.length = this.maxHeld;
    }
    this.batch = later;
    return out;
  }

  /** Every event still held, sorted (at stop). */
  drain(): E[] {
    return this.take(Infinity);
  }
}
