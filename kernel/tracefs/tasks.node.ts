// Who a thread was when its event happened: its process id, real uid and
// command. Told by a TaskLedger (task-ledger.ts) kept from the kernel's task
// events — task:task_newtask, task:task_rename, sched:sched_process_exit — in
// an instance of its own (so their overruns never mix with a probe's counts of
// its own events), seeded from /proc at start. A thread that has exited by the
// time its event is read is still named, with its own process and the command
// it had; never from the kernel's saved_tgids/saved_cmdlines, which keep
// whatever task last had the tid (stale after pids wrap).
//
// Callers poll() the tracker after reading their own events and before asking
// about them: a task's fork precedes its events, so it is in by then.
// The uid is read from /proc while the task lives (again after UID_TTL_NS);
// a task that exited before that has the uid it was forked with, unless it
// called setuid/setreuid/setresuid (syscall exits, followed too): then it is
// unknown (-1). A thread whose process
// cannot be told (its fork was lost, or it was forked between enabling the
// events and the seed and exited before being read) is pid -1.

import { readdirSync, readlinkSync } from 'node:fs';
import { field, readInt, type EventFormat, type FieldLayout } from '../../core/tracefs/format.ts';
import { TracefsInstance } from './instance.node.ts';
import { monoNowNs } from './clock.node.ts';
import { PageVisitor } from './page-visitor.node.ts';
import { TaskLedger, type Life, type TaskOwner } from '../../core/tracefs/task-ledger.ts';
import { readStatus } from '../procfs/proc.node.ts';

/** Who a thread was when its event happened. */
export type TaskInfo = TaskOwner;

type Decode = (buf: Buffer, off: number, tsNs: number) => void;

/** A live task's uid is read again after this long (setuid): ns. */
const UID_TTL_NS = 1e9;

export class TaskTracker {
  readonly ledger = new TaskLedger();
  /** Task events missing on this kernel (then exited threads may be pid -1). */
  readonly missing: string[] = [];
  private readonly reader: PageVisitor;

  private constructor(private readonly inst: TracefsInstance) {
    const comm = (buf: Buffer, off: number, f: FieldLayout) => {
      const raw = buf.subarray(off + f.offset, off + f.offset + f.size);
      const nul = raw.indexOf(0);
      return raw.toString('utf8', 0, nul < 0 ? raw.length : nul);
    };
    const decoders = new Map<number, Decode>();
    const on = (sys: string, ev: string, make: (fmt: EventFormat, pidF: FieldLayout) => Decode) => {
      if (!inst.hasEvent(sys, ev)) return void this.missing.push(`${sys}:${ev}`);
      const fmt = inst.eventFormat(sys, ev);
      decoders.set(fmt.id, make(fmt, field(fmt, 'common_pid')));
      inst.enable(sys, ev);
    };
    inst.write('trace_clock', 'mono');
    on('task', 'task_newtask', (fmt, parentF) => {
      const pidF = field(fmt, 'pid');
      const commF = field(fmt, 'comm');
      const flagsF = field(fmt, 'clone_flags');
      // clone_flags is a u64; CLONE_THREAD is in its low word.
      return (buf, off, ts) => this.ledger.fork(ts, readInt(buf, off, parentF), readInt(buf, off, pidF), buf.readUInt32LE(off + flagsF.offset), comm(buf, off, commF));
    });
    on('task', 'task_rename', (fmt) => {
      const pidF = field(fmt, 'pid');
      const commF = field(fmt, 'newcomm');
      return (buf, off, ts) => this.ledger.rename(ts, readInt(buf, off, pidF), comm(buf, off, commF));
    });
    on('sched', 'sched_process_exit', (fmt) => {
      const pidF = field(fmt, 'pid');
      const commF = field(fmt, 'comm');
      return (buf, off, ts) => this.ledger.exit(ts, readInt(buf, off, pidF), comm(buf, off, commF));
    });
    // A forked task has its parent's uid until one of these: without them, no uid is handed down.
    const before = this.missing.length;
    for (const call of ['setuid', 'setreuid', 'setresuid']) {
      on('syscalls', `sys_exit_${call}`, (_fmt, taskF) => (buf, off, ts) => this.ledger.setuid(ts, readInt(buf, off, taskF)));
    }
    if (this.missing.length > before) {
      this.ledger.inheritUid = false;
      this.missing.length = before; // not needed to name a process, only to know its uid
    }
    // common_type: the first field of every record.
    this.reader = new PageVisitor(inst, (buf, off, _len, ts) => decoders.get(buf.readUInt16LE(off))?.(buf, off, ts));
    this.seed();
  }

  /**
   * Starts following the task events, in an instance of its own closed with the probe's `alongside` (however that
   * closes), and seeds from /proc. Throws a ProbeError without tracefs.
   */
  static open(alongside: TracefsInstance): TaskTracker {
    const inst = TracefsInstance.create('tasks');
    let tracker: TaskTracker;
    try {
      tracker = new TaskTracker(inst);
    } catch (e) {
      inst.close();
      throw e;
    }
    alongside.beforeClose(() => tracker.close());
    return tracker;
  }

  /** Takes in the task events the kernel has now. */
  poll(): void {
    this.reader.read();
  }

  /** Task events the kernel overwrote before they were read (then an exited thread may be pid -1); stats once a second. */
  lost(): number {
    return this.reader.overruns();
  }

  /**
   * Takes in the task events still in the buffer (a rename or an exit just before a stop must name the events read
   * after it: a signal closes this before the probe's last read), then closes. Idempotent: the final counts are kept.
   */
  close(): void {
    if (!this.reader.isClosed) this.poll();
    this.reader.close();
    this.inst.close();
  }

  /** Every thread in /proc now. */
  private seed(): void {
    const now = monoNowNs();
    let pids: string[];
    try {
      pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
    } catch {
      return;
    }
    for (const p of pids) {
      const tgid = Number(p);
      const st = readStatus(tgid);
      if (!st) continue;
      let tids: string[];
      try {
        tids = readdirSync(`/proc/${p}/task`);
      } catch {
        continue;
      }
      // A thread's own name is not needed: rows name the process (its main thread's comm).
      for (const t of tids) this.ledger.seed(Number(t), tgid, st.command, st.uid, now);
    }
  }

  /** Who thread `tid` was at trace time `tsNs`. */
  get(tid: number, tsNs: number): TaskInfo {
    let life = this.ledger.at(tid, tsNs);
    const now = monoNowNs();
    // /proc/<tid> is still this task (alive, or a zombie not yet reaped) unless the tid has begun another life since.
    const current = this.ledger.at(tid, now);
    if ((!life || life.uid < 0 || now - (life.uidNs ?? 0) > UID_TTL_NS || !this.ledger.processOf(life)) && (current === null || current === life)) {
      const st = readStatus(tid);
      if (st && (!life || !this.ledger.processOf(life) || life.tgid === st.tgid)) {
        if (!life) {
          this.ledger.seed(tid, st.tgid, st.command, st.uid, now);
          life = this.ledger.at(tid, tsNs);
        }
        if (life) {
          if (!life.tgid) life.tgid = st.tgid;
          life.uid = st.uid;
          life.uidNs = now;
        }
      }
    }
    if (!life || !this.ledger.processOf(life)) return { pid: -1, uid: -1, command: life?.command ?? '?', live: false };
    return { pid: life.tgid, uid: life.uid, command: this.ledger.commandOf(life.tgid, tsNs, life.command), live: life.exitNs === Infinity };
  }

  /** The network namespace of `tid` at `tsNs` ("net:[…]", kept per life), or null when it had exited unasked. */
  netns(tid: number, tsNs: number): string | null {
    const life: Life | null = this.ledger.at(tid, tsNs);
    if (life && life.note !== undefined) return life.note;
    let ns: string | null = null;
    if (!life || life.exitNs === Infinity) {
      try {
        ns = readlinkSync(`/proc/${tid}/ns/net`);
      } catch {
        ns = null;
      }
    }
    if (life) life.note = ns;
    return ns;
  }
}
