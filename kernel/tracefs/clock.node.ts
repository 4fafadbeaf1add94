// The trace clock, and converting its timestamps (every instance runs with
// trace_clock "mono", i.e. CLOCK_MONOTONIC in ns) to µs since the epoch, the
// clock of libpcap's packet timestamps and of every row's TIME, to within a
// few µs. Date.now() has ms resolution but is exact at the instant it
// ticks: spin (at most ~1 ms) until it does, with the monotonic clock read
// just before the last read of Date.now() that had not ticked and just after
// the one that had — the tick lies between. A round in which the thread was
// descheduled gives a wide bracket and is outdone by a tight one: the
// tightest of several rounds is kept. (An offset read in a disturbed round once
// put tracepoint events 1.3 ms after the packets they caused.)
// A step of the wall clock (settimeofday) is followed by recalibrate(); NTP
// slewing applies to both clocks alike.

/** The monotonic clock in ns: the same clock as the instances' trace_clock "mono". */
export const monoNowNs = (): number => Number(process.hrtime.bigint());

/** realtime − monotonic, in µs, measured at a tick of Date.now(); and the width of the bracket, in µs. */
export function monoToEpochOffsetUs(rounds = 5): { offsetUs: number; widthUs: number } {
  let best = Infinity;
  let offset = 0;
  for (let round = 0; round < rounds || (best > 50 && round < 4 * rounds); round++) {
    let a = monoNowNs();
    const d0 = Date.now();
    for (;;) {
      const a2 = monoNowNs();
      const d2 = Date.now();
      const b2 = monoNowNs();
      if (d2 !== d0) {
        // The tick came after the previous Date.now() (read after `a`) and before this one returned (before `b2`).
        const width = b2 - a;
        if (width < best) {
          best = width;
          offset = d2 * 1000 - (a + b2) / 2000;
        }
        break;
      }
      a = a2;
    }
  }
  return { offsetUs: offset, widthUs: best / 1000 };
}

export interface EpochConverter {
  /** Whole µs since the epoch for a trace timestamp in the mono clock. */
  (tsNs: number): number;
  /** Measures the offset again (after a wall-clock step); keeps the old one if this measure is worse. */
  recalibrate(): void;
}

/** A converter from the mono trace clock to µs since the epoch, calibrated now. */
export function epochMicrosConverter(): EpochConverter {
  let { offsetUs } = monoToEpochOffsetUs();
  const convert = ((tsNs: number) => Math.round(tsNs / 1000 + offsetUs)) as EpochConverter;
  convert.recalibrate = () => {
    const m = monoToEpochOffsetUs(3);
    if (m.widthUs < 50) offsetUs = m.offsetUs;
  };
  return convert;
}
