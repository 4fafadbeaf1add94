// Converting tracefs timestamps (the instance's trace_clock "mono", i.e.
// CLOCK_MONOTONIC in ns) to µs since the epoch, the clock of libpcap's packet
// timestamps, to within a few µs rather than raw-reader's Date.now()-based
// millisecond. Date.now() has ms resolution but is exact at the instant it
// ticks: spin (at most ~1 ms) until it does and read the monotonic clock
// there. A step of the wall clock after calibration (settimeofday) is not
// followed; NTP slewing applies to both clocks alike.

import { monoNowNs } from './raw-reader.node.ts';

/** realtime − monotonic, in µs, measured at a tick of Date.now(). */
export function monoToEpochOffsetUs(): number {
  let best = Infinity;
  let offset = 0;
  for (let round = 0; round < 3; round++) {
    const d0 = Date.now();
    let before = monoNowNs();
    let d1 = Date.now();
    let after = before;
    while (d1 === d0) {
      before = after;
      after = monoNowNs();
      d1 = Date.now();
    }
    // The tick happened between `before` and `after`: take the middle; keep the tightest round.
    const width = after - before;
    if (width < best) {
      best = width;
      offset = d1 * 1000 - (before + after) / 2000;
    }
  }
  return offset;
}

/** µs since the epoch for a trace timestamp in the mono clock, calibrated once, now. */
export function preciseEpochMicrosConverter(): (tsNs: number) => number {
  const offsetUs = monoToEpochOffsetUs();
  return (tsNs) => tsNs / 1000 + offsetUs;
}
