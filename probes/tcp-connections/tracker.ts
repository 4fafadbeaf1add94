// tcp-connections' tracker: from sock:inet_sock_set_state and the accept
// syscalls' tracepoints to one row per connection a local process accepted
// (and, optionally, per connection a local process opened). Pure: the /proc
// look-ups it needs come in through `Lookups`, so it is unit tested.
//
// Why not attribute by the state change's pid: a passive connection becomes
// ESTABLISHED in softirq, in whatever task is current (on loopback or a veth,
// the client). So a passive establishment waits in a per-port queue until a
// process returns from accept()/accept4() on a listener of that port, in its
// own context: that process accepted it. The kernel's accept queue is FIFO per
// listener, so the oldest waiting connection on the port is the one accepted.
// Caveat: two listeners on one port (SO_REUSEPORT, or other network
// namespaces) share our queue and may swap peers between them.
// Outbound: CLOSE → SYN_SENT runs in connect(), in the connecting task.
//
// Lifetimes (as tcplife): each connection is followed by its socket address
// from its establishment (outbound: from connect) to CLOSE, summing what the
// trouble events say of it (retransmissions, resets, bytes, RTT); the row is
// made at CLOSE, with the process that accepted (or opened) it.

import type { ConnRow } from './definition.ts';
import { ipv4, ipv6 } from '../../core/packet.ts';
import { TcpState } from '../../core/procfs/proc-net.ts';
import type { TaskOwner } from '../../core/tracefs/task-ledger.ts';


export interface StateChange {
  readonly kind: 'state';
  readonly tsNs: number;
  readonly tid: number;
  /** True when the event ran in interrupt context (softirq/hardirq/NMI): its tid says nothing. */
  readonly irq: boolean;
  readonly sk: string;
  readonly oldstate: number;
  readonly newstate: number;
  readonly sport: number;
  readonly dport: number;
  readonly saddr: string;
  readonly daddr: string;
}

export interface AcceptEnter {
  readonly kind: 'acceptEnter';
  readonly tsNs: number;
  readonly tid: number;
  readonly fd: number;
}

export interface AcceptExit {
  readonly kind: 'acceptExit';
  readonly tsNs: number;
  readonly tid: number;
  readonly ret: number;
}

/** An event about one connection's health, keyed by its socket address. */
export interface Trouble {
  readonly kind: 'trouble';
  readonly tsNs: number;
  readonly sk: string;
  /** tx/rx: bytes; srtt: µs; the others: one each. */
  readonly what: 'tx' | 'rx' | 'retrans' | 'rstSent' | 'rstRecv' | 'srtt';
  readonly value: number;
}

export type ConnEvent = StateChange | AcceptEnter | AcceptExit | Trouble;

/** A connection followed from its establishment to its close (--lifetimes). */
interface Life {
  readonly startNs: number;
  /** The latest state change with its ports known (an outbound socket has no source port at SYN_SENT). */
  ev: StateChange;
  owner?: Owner;
  direction?: 'accepted' | 'outbound';
  tx: number;
  rx: number;
  retrans: number;
  rstSent: number;
  rstRecv: number;
  srttUs: number;
}

const STATE_NAMES = Object.fromEntries(Object.entries(TcpState).map(([name, n]) => [n, name])) as Record<number, string>;

/** Who a thread was at an event: its process, and whether the thread still ran when asked. */
export type Owner = TaskOwner;

export interface Lookups {
  /** Who thread `tid` was at trace time `tsNs`. */
  owner(tid: number, tsNs: number): Owner;
  /** The local port of listening socket `fd` of thread `tid`'s process, or null if it cannot be found. */
  listenerPort(tid: number, fd: number): number | null;
  /** Trace timestamp (ns) → µs since the epoch. */
  epochUs(tsNs: number): number;
}

interface Pending {
  readonly ev: StateChange;
  readonly owner?: Owner; // outbound: the connecting task
}

export interface TrackerCounters {
  accepted: number;
  outbound: number;
  /** accept() returned but no waiting connection on its port was seen (e.g. established before the probe started). */
  unattributed: number;
  /** accept() on a listener whose port could not be found (the process exited, the fd was closed). */
  noListener: number;
  /** Established connections no accept() took within EXPIRE_NS (dropped by the server, or reset). */
  neverAccepted: number;
  /** Owners that had exited before their event was read: uid unknown (-1), command from tracefs. */
  ownerGone: number;
  /** Entries shed because a table hit its limit. */
  shed: number;
  /** --lifetimes: connections closed with their process known (a row each), and without (no row). */
  closed: number;
  closedUnowned: number;
}

const MAX_PENDING = 10_000;
/** Connections followed at once with --lifetimes. */
const MAX_LIVES = 65_536;
const MAX_THREADS = 10_000;
const EXPIRE_NS = 60e9;

export class ConnTracker {
  /** local port → passive establishments waiting for accept(), oldest first. */
  private readonly waiting = new Map<number, StateChange[]>();
  private waitingCount = 0;
  /** tid → listener fd of the accept() it is in, and who it was then (a process may exit right after accepting). */
  private readonly inAccept = new Map<number, { fd: number; owner: Owner }>();
  /** sk → a connect() in flight. */
  private readonly connecting = new Map<string, Pending>();
  /** pid → ports it was seen to listen on (CLOSE → LISTEN in its own context). */
  private readonly listens = new Map<number, Set<number>>();
  /** accept exits that found nothing waiting: retried once after the next batch. */
  private deferred: { ev: AcceptExit; port: number; atEnter: Owner | undefined }[] = [];
  /** sk → a connection followed until it closes (--lifetimes). */
  private readonly lives = new Map<string, Life>();
  /**
   * Connections closed in the last batch, their rows made one batch later: the kernel traces an active reset
   * (SO_LINGER 0, an abort) just after the socket's change to CLOSE.
   */
  private closing = new Map<string, { life: Life; close: StateChange }>();
  readonly counts: TrackerCounters = { accepted: 0, outbound: 0, unattributed: 0, noListener: 0, neverAccepted: 0, ownerGone: 0, shed: 0, closed: 0, closedUnowned: 0 };

  constructor(
    private readonly lookups: Lookups,
    private readonly opts: { outbound: boolean; lifetimes?: boolean },
  ) {}

  /** Handles one batch of events in time order; returns the rows they complete. */
  process(events: readonly ConnEvent[]): ConnRow[] {
    const rows: ConnRow[] = [];
    const closed = this.closing;
    this.closing = new Map();
    const retry = this.deferred;
    this.deferred = [];
    let lastTs = 0;
    for (const e of events) {
      lastTs = e.tsNs;
      if (e.kind === 'acceptEnter') {
        if (this.inAccept.size >= MAX_THREADS && !this.inAccept.has(e.tid)) {
          this.counts.shed++;
          continue;
        }
        this.inAccept.set(e.tid, { fd: e.fd, owner: this.lookups.owner(e.tid, e.tsNs) });
      } else if (e.kind === 'acceptExit') this.onAcceptExit(e, rows, true);
      else if (e.kind === 'trouble') this.onTrouble(e);
      else this.onState(e, rows);
    }
    for (const d of retry) this.take(d.ev, d.port, rows, false, d.atEnter);
    for (const { life, close } of closed.values()) this.lifetimeRow(life, close, rows);
    this.expire(lastTs);
    return rows;
  }

  /** At stop: accepts still deferred are unattributed; the rows of connections closed in the last batch. */
  finish(): ConnRow[] {
    this.counts.unattributed += this.deferred.length;
    this.deferred = [];
    const rows: ConnRow[] = [];
    for (const { life, close } of this.closing.values()) this.lifetimeRow(life, close, rows);
    this.closing = new Map();
    return rows;
  }

  private onTrouble(e: Trouble): void {
    const life = this.lives.get(e.sk) ?? this.closing.get(e.sk)?.life;
    if (!life) return; // a listener, or a connection opened before we started
    if (e.what === 'srtt') life.srttUs = e.value;
    else life[e.what] += e.value;
  }

  /** --lifetimes: starts following a connection (its establishment, or an outbound connect). */
  private follow(e: StateChange, owner?: Owner, direction?: 'accepted' | 'outbound'): void {
    if (!this.opts.lifetimes) return;
    if (this.lives.size >= MAX_LIVES && !this.lives.has(e.sk)) {
      this.counts.shed++;
      return;
    }
    this.lives.set(e.sk, { startNs: e.tsNs, ev: e, owner, direction, tx: 0, rx: 0, retrans: 0, rstSent: 0, rstRecv: 0, srttUs: 0 });
  }

  /** --lifetimes: a followed connection reached CLOSE: its row comes with the next batch. */
  private close(e: StateChange, rows: ConnRow[]): void {
    const life = this.lives.get(e.sk);
    if (!life) return;
    this.lives.delete(e.sk);
    const earlier = this.closing.get(e.sk); // the address already reused within one batch: that one's row now
    if (earlier) this.lifetimeRow(earlier.life, earlier.close, rows);
    this.closing.set(e.sk, { life, close: e });
  }

  /** A closed connection's row, if its process is known. */
  private lifetimeRow(life: Life, e: StateChange, rows: ConnRow[]): void {
    if (!life.owner || !life.direction) {
      this.counts.closedUnowned++;
      return;
    }
    this.counts.closed++;
    rows.push({
      ...this.row({ ...life.ev, tsNs: e.tsNs }, life.owner, life.direction),
      durationMs: Math.round((e.tsNs - life.startNs) / 1e6),
      txBytes: life.tx,
      rxBytes: life.rx,
      retrans: life.retrans,
      resetsSent: life.rstSent,
      resetsReceived: life.rstRecv,
      srttUs: life.srttUs,
      state: `closed from ${STATE_NAMES[e.oldstate] ?? e.oldstate}`,
    });
  }

  private onState(e: StateChange, rows: ConnRow[]): void {
    if (this.opts.lifetimes) {
      const life = this.lives.get(e.sk);
      if (life && e.sport) life.ev = e;
      if (e.newstate === TcpState.CLOSE) {
        this.connecting.delete(e.sk);
        return this.close(e, rows);
      }
    }
    if (e.newstate === TcpState.LISTEN && !e.irq) {
      const pid = this.lookups.owner(e.tid, e.tsNs).pid;
      let set = this.listens.get(pid);
      if (!set) {
        if (this.listens.size >= MAX_THREADS) this.listens.clear();
        set = new Set();
        this.listens.set(pid, set);
      }
      set.add(e.sport);
      return;
    }
    if (e.oldstate === TcpState.SYN_RECV && e.newstate === TcpState.ESTABLISHED) {
      let q = this.waiting.get(e.sport);
      if (!q) {
        q = [];
        this.waiting.set(e.sport, q);
      }
      if (this.waitingCount >= MAX_PENDING) {
        this.counts.shed++;
        return;
      }
      // Keep each queue in time order even if events of other CPUs arrive late.
      let i = q.length;
      while (i > 0 && q[i - 1]!.tsNs > e.tsNs) i--;
      q.splice(i, 0, e);
      this.waitingCount++;
      this.follow(e);
      return;
    }
    if (!this.opts.outbound) return;
    if (e.oldstate === TcpState.CLOSE && e.newstate === TcpState.SYN_SENT) {
      if (e.irq) {
        this.counts.unattributed++;
        return;
      }
      if (this.connecting.size >= MAX_PENDING) {
        this.counts.shed++;
        return;
      }
      const owner = this.lookups.owner(e.tid, e.tsNs);
      this.connecting.set(e.sk, { ev: e, owner });
      this.follow(e, owner, 'outbound'); // from connect(): a refused or timed-out connect is a lifetime too
      return;
    }
    if (e.oldstate === TcpState.SYN_SENT) {
      const p = this.connecting.get(e.sk);
      this.connecting.delete(e.sk);
      if (!p?.owner || e.newstate !== TcpState.ESTABLISHED) return; // connect failed, or began before we started
      this.counts.outbound++;
      if (!this.opts.lifetimes) rows.push(this.row(e, p.owner, 'outbound'));
    }
  }

  private onAcceptExit(e: AcceptExit, rows: ConnRow[], mayDefer: boolean): void {
    const entered = this.inAccept.get(e.tid);
    this.inAccept.delete(e.tid);
    if (e.ret < 0) return; // accept failed (EAGAIN on a non-blocking listener, say)
    if (entered === undefined) {
      this.counts.unattributed++; // entered accept before we started
      return;
    }
    let port = this.lookups.listenerPort(e.tid, entered.fd);
    if (port === null) {
      const ports = this.listens.get(this.lookups.owner(e.tid, e.tsNs).pid);
      if (ports?.size === 1) port = [...ports][0]!;
    }
    if (port === null) {
      this.counts.noListener++;
      return;
    }
    this.take(e, port, rows, mayDefer, entered.owner);
  }

  private take(e: AcceptExit, port: number, rows: ConnRow[], mayDefer: boolean, atEnter?: Owner): void {
    const q = this.waiting.get(port);
    const conn = q?.shift();
    if (!conn) {
      if (mayDefer) this.deferred.push({ ev: e, port, atEnter });
      else this.counts.unattributed++;
      return;
    }
    this.waitingCount--;
    if (q!.length === 0) this.waiting.delete(port);
    this.counts.accepted++;
    const now = this.lookups.owner(e.tid, e.tsNs);
    const owner = !now.live && atEnter?.live ? atEnter : now;
    const life = this.lives.get(conn.sk);
    if (life) {
      life.owner = owner;
      life.direction = 'accepted';
    }
    if (!this.opts.lifetimes) rows.push(this.row({ ...conn, tsNs: e.tsNs }, owner, 'accepted'));
  }

  private row(e: StateChange, o: Owner, direction: 'accepted' | 'outbound'): ConnRow {
    if (!o.live) this.counts.ownerGone++;
    return {
      time: this.lookups.epochUs(e.tsNs),
      uid: o.uid,
      cmd: o.command,
      pid: o.pid,
      port: e.sport,
      ipSource: e.daddr,
      remotePort: e.dport,
      direction,
      durationMs: 0,
      txBytes: 0,
      rxBytes: 0,
      retrans: 0,
      resetsSent: 0,
      resetsReceived: 0,
      srttUs: 0,
      state: STATE_NAMES[e.newstate] ?? String(e.newstate),
    };
  }

  private expire(now: number): void {
    for (const [port, q] of this.waiting) {
      while (q.length && now - q[0]!.tsNs > EXPIRE_NS) {
        q.shift();
        this.waitingCount--;
        this.counts.neverAccepted++;
      }
      if (!q.length) this.waiting.delete(port);
    }
    for (const [sk, p] of this.connecting) if (now - p.ev.tsNs > EXPIRE_NS) this.connecting.delete(sk);
  }
}

/** inet_sock_set_state's addresses: IPv4 dotted, IPv6 per RFC 5952, v4-mapped IPv6 as plain IPv4. */
export function sockAddr(family: number, v4: Uint8Array, v6: Uint8Array): string {
  if (family === 2) return ipv4(v4, 0);
  let mapped = v6[10] === 0xff && v6[11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) if (v6[i] !== 0) mapped = false;
  return mapped ? ipv4(v6, 12) : ipv6(v6, 0);
}
