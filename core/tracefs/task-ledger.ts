// Who a thread was at a moment of the trace clock: its process (tgid) and the
// process's command, kept from the kernel's own task events so it can be told
// after the thread has exited — when /proc has nothing left and the kernel's
// saved_tgids/saved_cmdlines may still hold a previous task of the same tid
// (pids wrap: 32768 by default, and a busy machine goes round in minutes).
//
// A tid has a few "lives", each from a fork (task:task_newtask) to an exit
// (sched:sched_process_exit), renamed on the way (task:task_rename: prctl,
// exec). A forked task has its parent's uid, until it calls setuid, setreuid
// or setresuid (their syscall exits): then its uid is unknown until /proc is
// read again. (A parent's setuid read after its fork, from another CPU's
// buffer, is not carried over to the child: a window of one read.) Threads alive at start are seeded from /proc. Events may arrive out of
// order (per-CPU buffers read one after the other), so a life is built from
// whichever of its events comes first: an exit read before its fork makes a
// life with an unknown start, which the fork then completes.
//
// Pure (no Node imports): tracefs wiring and /proc reads are in tasks.node.ts.

import type { Owner } from '../procfs/proc-net.ts';

/** Who a thread was: its process, as rows name it, and whether the thread was still running when asked. */
export interface TaskOwner extends Owner {
  /** False when the thread had exited by the time it was asked about (uid then from earlier, or -1). */
  readonly live: boolean;
}

/** clone(2)'s CLONE_THREAD: the new task is a thread of its parent's process. */
export const CLONE_THREAD = 0x10000;

export interface Life {
  readonly tid: number;
  /** Its process id; 0 when not known yet (see processOf). */
  tgid: number;
  /** A thread: the task that created it, whose process it is in (told when the parent's fork is read later). */
  parent?: number;
  /** Its latest command (comm), and the trace time it was set at. */
  command: string;
  commandNs: number;
  /**
   * The commands it had before, each with the trace time it was set at, oldest first (the last NAMES_KEPT): an event
   * read after a rename is named as the task was named when it happened.
   */
  earlier?: [ns: number, command: string][];
  /** Real uid: read from /proc while it lived, or its parent's at fork; -1 when not known. */
  uid: number;
  /** When the uid was read from /proc (monotonic ns); undefined when inherited or unknown. */
  uidNs?: number;
  /** Trace time of its last setuid-family call: the uid it had before is not its uid any more. */
  setuidNs?: number;
  /** Trace time of its fork; -Infinity when not seen (it was there at start, or its fork is not read yet). */
  startNs: number;
  /** Trace time of its exit; Infinity while alive (as far as the events read tell). */
  exitNs: number;
  /** Seeded from /proc at this trace time: a fork of this tid after it is a new life. */
  seededNs?: number;
  /** Free for the caller (tasks.node.ts keeps its network namespace here). */
  note?: string | null;
}

export interface LedgerLimits {
  /** Most tids kept; past it, the longest-exited lives go first. */
  maxTids: number;
  /** Exited lives are kept this long (trace ns) after their exit, for events read late. */
  keepNs: number;
}

export const DEFAULT_LEDGER_LIMITS: LedgerLimits = { maxTids: 65536, keepNs: 10e9 };

const LIVES_PER_TID = 4;
/** Earlier commands kept per life (threads seldom rename themselves more than once or twice). */
const NAMES_KEPT = 8;

/** `life` was named `command` at trace time `tsNs` (a rename read late goes among the earlier names). */
function setCommand(life: Life, tsNs: number, command: string): void {
  const earlier = (life.earlier ??= []);
  if (tsNs >= life.commandNs) {
    if (command === life.command) return;
    earlier.push([life.commandNs, life.command]);
    life.command = command;
    life.commandNs = tsNs;
  } else {
    const i = earlier.findIndex(([ns]) => ns > tsNs);
    earlier.splice(i < 0 ? earlier.length : i, 0, [tsNs, command]);
  }
  if (earlier.length > NAMES_KEPT) earlier.shift();
}

/** The command `life` had at trace time `tsNs`. */
function commandAt(life: Life, tsNs: number): string {
  if (tsNs >= life.commandNs || !life.earlier?.length) return life.command;
  let command = life.earlier[0]![1];
  for (const [ns, c] of life.earlier) if (ns <= tsNs) command = c;
  return command;
}

export class TaskLedger {
  private readonly lives = new Map<number, Life[]>();
  private readonly limits: LedgerLimits;
  /** Lives dropped to stay within maxTids. */
  evicted = 0;
  /** False when setuid calls cannot be seen: then a forked task's uid is not taken from its parent. */
  inheritUid = true;
  private exits = 0;

  constructor(limits: Partial<LedgerLimits> = {}) {
    this.limits = { ...DEFAULT_LEDGER_LIMITS, ...limits };
  }

  get size(): number {
    return this.lives.size;
  }

  /** A thread found in /proc at trace time `nowNs`. */
  seed(tid: number, tgid: number, command: string, uid: number, nowNs: number): void {
    if (this.at(tid, nowNs)) return; // its fork was read already
    this.push({ tid, tgid, command, commandNs: -Infinity, uid, startNs: -Infinity, exitNs: Infinity, seededNs: nowNs });
  }

  /** task:task_newtask: `parent` (the event's task) created `tid`. */
  fork(tsNs: number, parent: number, tid: number, cloneFlags: number, command: string): void {
    const thread = (cloneFlags & CLONE_THREAD) !== 0;
    const from = this.at(parent, tsNs);
    const tgid = thread ? (from?.tgid ?? 0) : tid;
    const uid = this.inheritUid ? (from?.uid ?? -1) : -1;
    const life = this.at(tid, tsNs);
    if (life && life.startNs === -Infinity && (life.seededNs === undefined || tsNs <= life.seededNs)) {
      // This life's own fork, read after its exit or its seed.
      life.startNs = tsNs;
      if (!life.tgid) life.tgid = tgid;
      if (thread) life.parent = parent;
      if (life.commandNs === -Infinity) life.command = command;
      else setCommand(life, tsNs, command); // its name until the rename read before it
      if (life.uid < 0 && life.setuidNs === undefined) life.uid = uid;
      return;
    }
    if (life) life.exitNs = tsNs; // the tid was reused: its previous life's exit was lost
    this.push({ tid, tgid, parent: thread ? parent : undefined, command, commandNs: tsNs, uid, startNs: tsNs, exitNs: Infinity });
  }

  /** task:task_rename (prctl PR_SET_NAME, exec). */
  rename(tsNs: number, tid: number, command: string): void {
    const life = this.at(tid, tsNs);
    if (!life) {
      // Read before its fork (another CPU's buffer): a life the fork completes.
      this.push({ tid, tgid: 0, command, commandNs: tsNs, uid: -1, startNs: -Infinity, exitNs: Infinity });
    } else setCommand(life, tsNs, command);
  }

  /** The exit of a setuid, setreuid or setresuid call: the task's uid may have changed. */
  setuid(tsNs: number, tid: number): void {
    let life = this.at(tid, tsNs);
    if (!life) {
      // Read before its fork: a life the fork completes (without handing down the parent's uid).
      life = { tid, tgid: 0, command: '', commandNs: -Infinity, uid: -1, startNs: -Infinity, exitNs: Infinity };
      this.push(life);
    }
    if (life.uidNs === undefined || life.uidNs < tsNs) {
      life.uid = -1;
      life.uidNs = undefined;
    }
    life.setuidNs = Math.max(life.setuidNs ?? -Infinity, tsNs);
  }

  /** sched:sched_process_exit: the command it died with. */
  exit(tsNs: number, tid: number, command: string): void {
    if (++this.exits % 1024 === 0) this.expire(tsNs);
    const life = this.at(tid, tsNs);
    if (life) {
      life.exitNs = tsNs;
      if (tsNs >= life.commandNs) setCommand(life, tsNs, command);
      return;
    }
    this.push({ tid, tgid: 0, command, commandNs: tsNs, uid: -1, startNs: -Infinity, exitNs: tsNs });
  }

  /**
   * The life of `tid` that contains trace time `tsNs`, or null. Of two that
   * could (one whose start is unknown), the one that ends first: a life whose
   * start is unknown began after every earlier life of its tid ended.
   */
  at(tid: number, tsNs: number): Life | null {
    const list = this.lives.get(tid);
    if (!list) return null;
    let best: Life | null = null;
    for (const life of list) {
      if (life.startNs <= tsNs && tsNs <= life.exitNs && (!best || life.exitNs < best.exitNs)) best = life;
    }
    return best;
  }

  /** The process a life is in (its tgid), asking its creator's life when its fork was read before the creator's; 0 if unknown. */
  processOf(life: Life): number {
    let cur: Life | null = life;
    for (let hops = 0; cur && !cur.tgid && cur.parent !== undefined && hops < 8; hops++) cur = this.at(cur.parent, cur.startNs);
    if (cur?.tgid) life.tgid = cur.tgid;
    return life.tgid;
  }

  /** The command of process `tgid` at `tsNs`: its main thread's (as /proc/<pid>/comm), else `fallback`. */
  commandOf(tgid: number, tsNs: number, fallback: string): string {
    const life = this.at(tgid, tsNs);
    return life ? commandAt(life, tsNs) : fallback;
  }

  /** Drops lives that exited more than keepNs before `nowNs`. */
  expire(nowNs: number): void {
    const limit = nowNs - this.limits.keepNs;
    for (const [tid, list] of this.lives) {
      const kept = list.filter((life) => life.exitNs >= limit);
      if (kept.length === list.length) continue;
      if (kept.length) this.lives.set(tid, kept);
      else this.lives.delete(tid);
    }
  }

  private push(life: Life): void {
    let list = this.lives.get(life.tid);
    if (!list) {
      if (this.lives.size >= this.limits.maxTids) this.makeRoom();
      this.lives.set(life.tid, (list = []));
    }
    if (list.length >= LIVES_PER_TID) {
      // The life that ended first goes.
      let k = 0;
      for (let i = 1; i < list.length; i++) if (list[i]!.exitNs < list[k]!.exitNs) k = i;
      list.splice(k, 1);
      this.evicted++;
    }
    list.push(life);
  }

  /** Full: drops the tids whose lives all ended, longest ago first, down to 7/8 of the limit. */
  private makeRoom(): void {
    const ended: [number, number][] = [];
    for (const [tid, list] of this.lives) {
      let last = -Infinity;
      for (const life of list) last = Math.max(last, life.exitNs);
      if (last !== Infinity) ended.push([last, tid]);
    }
    ended.sort((a, b) => a[0] - b[0]);
    const target = Math.floor((this.limits.maxTids * 7) / 8);
    for (const [, tid] of ended) {
      if (this.lives.size <= target) break;
      this.evicted += this.lives.get(tid)!.length;
      this.lives.delete(tid);
    }
    if (this.lives.size >= this.limits.maxTids) {
      // Every tid alive (exits lost, or a machine with more threads than the limit): the oldest entries go.
      for (const tid of this.lives.keys()) {
        if (this.lives.size <= target) break;
        this.evicted += this.lives.get(tid)!.length;
        this.lives.delete(tid);
      }
    }
  }
}
