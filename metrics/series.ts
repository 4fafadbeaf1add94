// The counters of one family, bounded: at most `maxSeries` label sets of their
// own (the top N by recent traffic, with some hysteresis so that equal label
// sets do not take turns) plus `other` series for the rest, and a
// label set with no traffic for `ttlMs` (an exited process) removed. Pure, so
// the policy is unit tested on its own; metrics/exporter.node.ts shows it to
// prom-client at each scrape.
//
// Three rules keep every count honest however the set churns:
//  - nothing is dropped: what a label set without a series of its own adds goes
//    to `other`, and what an evicted series had not yet shown goes there too;
//  - a new series is shown at 0 for one scrape before its first counts, so
//    Prometheus' increase() and rate() count them (a series that appears at 200
//    would count as starting at 200, its first 200 never seen as an increase);
//  - counters only grow while a series lives: a series that went away and comes
//    back starts again at 0, which Prometheus reads as a new series.

/** A newcomer takes the quietest series' place when its traffic is over this many times that series' (decayed) traffic. */
export const EVICT_FACTOR = 2;

/** Where the long tail goes: every label of an `other` series is this, except those kept. */
export const OTHER = 'other';

export interface SeriesLimits {
  /** Label sets with a series of their own. */
  readonly maxSeries: number;
  /** `other` series (one per value of the kept labels); beyond, one with every label `other`. */
  readonly maxOther: number;
  /** A series with no traffic for this long is removed. */
  readonly ttlMs: number;
  /** Half-life of the traffic score that ranks series, ms. */
  readonly halfLifeMs: number;
}

export interface ShownSeries {
  readonly labels: readonly string[];
  readonly values: readonly number[];
}

interface Series {
  readonly key: string;
  readonly labels: readonly string[];
  readonly other: boolean;
  /** What Prometheus has been shown (or will be, at the next scrape). */
  readonly shown: number[];
  /** Counts not yet shown: a new series' first counts wait for its first scrape. */
  readonly pending: number[];
  scraped: boolean;
  lastActive: number;
  /** Traffic, halved every halfLifeMs, as of scoreAt. */
  score: number;
  scoreAt: number;
}

export interface SeriesStats {
  /** Series created, removed because idle, and evicted by a busier newcomer, since start. */
  created: number;
  expired: number;
  evicted: number;
  /** Rows counted in an `other` series. */
  folded: number;
}

export class SeriesStore {
  private readonly own = new Map<string, Series>();
  private readonly others = new Map<string, Series>();
  readonly stats: SeriesStats = { created: 0, expired: 0, evicted: 0, folded: 0 };

  constructor(
    private readonly valueCount: number,
    /** Per label, whether an `other` series keeps its value. */
    private readonly keptInOther: readonly boolean[],
    private readonly limits: SeriesLimits,
  ) {}

  /** Adds one row's values to its label set's series (or to `other`); `weight` ranks it (its traffic). */
  add(labels: readonly string[], values: readonly number[], weight: number, now: number): void {
    const key = labels.join('\u0000');
    let s = this.own.get(key);
    if (!s) {
      if (this.own.size >= this.limits.maxSeries) this.expire(now);
      if (this.own.size >= this.limits.maxSeries) {
        const weakest = this.weakest(now);
        // Twice, so equal newcomers do not take turns: an exited process's slot is free after about a half-life.
        if (weakest && weight > EVICT_FACTOR * weakest.score) {
          this.remove(weakest, now);
          this.stats.evicted++;
        }
      }
      if (this.own.size < this.limits.maxSeries) {
        s = this.create(this.own, key, labels, false, now);
      } else {
        this.stats.folded++;
        s = this.otherFor(labels, now);
      }
    }
    for (let i = 0; i < this.valueCount; i++) s.pending[i]! += values[i]!;
    this.touch(s, weight, now);
  }

  /** What a scrape shows: every live series, new ones at 0; idle ones removed first. */
  scrape(now: number): ShownSeries[] {
    this.expire(now);
    const out: ShownSeries[] = [];
    for (const map of [this.own, this.others]) {
      for (const s of map.values()) {
        if (s.scraped) this.settle(s);
        s.scraped = true;
        out.push({ labels: s.labels, values: s.shown.slice() });
      }
    }
    return out;
  }

  /** Series now: own, other. */
  get size(): { own: number; other: number } {
    return { own: this.own.size, other: this.others.size };
  }

  private create(map: Map<string, Series>, key: string, labels: readonly string[], other: boolean, now: number): Series {
    const s: Series = {
      key,
      labels,
      other,
      shown: new Array<number>(this.valueCount).fill(0),
      pending: new Array<number>(this.valueCount).fill(0),
      scraped: false,
      lastActive: now,
      score: 0,
      scoreAt: now,
    };
    map.set(key, s);
    this.stats.created++;
    return s;
  }

  private otherFor(labels: readonly string[], now: number): Series {
    let other = labels.map((l, i) => (this.keptInOther[i] ? l : OTHER));
    let key = other.join('\u0000');
    let s = this.others.get(key);
    if (!s && this.others.size >= this.limits.maxOther) {
      other = labels.map(() => OTHER);
      key = other.join('\u0000');
      s = this.others.get(key);
    }
    return s ?? this.create(this.others, key, other, true, now);
  }

  private touch(s: Series, weight: number, now: number): void {
    s.score = this.decayed(s, now) + weight;
    s.scoreAt = now;
    s.lastActive = now;
  }

  private decayed(s: Series, now: number): number {
    return s.score * Math.pow(2, -(now - s.scoreAt) / this.limits.halfLifeMs);
  }

  /** The own series with the least recent traffic (a scan: maxSeries is hundreds, and this runs only for a newcomer when full). */
  private weakest(now: number): Series | null {
    let min: Series | null = null;
    let minScore = Infinity;
    for (const s of this.own.values()) {
      const score = this.decayed(s, now);
      if (score < minScore) [min, minScore] = [s, score];
    }
    if (min) {
      min.score = minScore;
      min.scoreAt = now;
    }
    return min;
  }

  private settle(s: Series): void {
    for (let i = 0; i < this.valueCount; i++) {
      s.shown[i]! += s.pending[i]!;
      s.pending[i] = 0;
    }
  }

  /** Takes a series away; what it had not shown yet goes to its `other` series, so no count is lost. */
  private remove(s: Series, now: number): void {
    (s.other ? this.others : this.own).delete(s.key);
    if (s.pending.some((v) => v !== 0)) {
      const other = this.otherFor(s.labels, now);
      for (let i = 0; i < this.valueCount; i++) other.pending[i]! += s.pending[i]!;
      other.lastActive = now;
    }
  }

  private expire(now: number): void {
    const cutoff = now - this.limits.ttlMs;
    for (const map of [this.own, this.others]) {
      for (const s of map.values()) {
        if (s.lastActive <= cutoff && s.pending.every((v) => v === 0)) {
          map.delete(s.key);
          this.stats.expired++;
        }
      }
    }
  }
}
