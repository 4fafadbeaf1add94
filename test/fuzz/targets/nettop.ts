// nettop's per-frame step (probes/nettop/frames.ts): FrameCounter
// reads the cooked v2 header itself, and its fast path (fastpath.ts, FlowMemo)
// reads addresses and ports straight from the bytes before decodeFrame does.
// The frames go, in sequence (so the memo fills and hits), to three counters
// over recording stand-ins for the engine:
//   A  exact-size buffers;
//   B  the same frames at an offset inside a larger buffer, bytes around them
//      0xa5 / 0x5a: must record exactly what A does (no read past caplen);
//   C  a memo that never hits (the engine's generation moves on every call):
//      the full path. Where A counted through the memo, C must have counted the
//      packet in the same row, direction and bytes.
// B reads through a guarded view (any read outside the frame throws), and each count's
// bytes must be the device's frame length (wire length - 20 + the device's link
// header). Frames are what libpcap hands over: caplen >= 20 is not assumed, but
// wireLen >= caplen is.

import { FrameCounter } from '../../../probes/nettop/frames.ts';
import type { NettopEngine } from '../../../probes/nettop/engine.ts';
import type { CachedFlow } from '../../../attribution/flow-cache.ts';
import type { Acc as Row } from '../../../probes/nettop/tables.ts';
import type { FlowTuple } from '../../../attribution/flow.ts';
import { linkHeaderLength } from '../../../probes/nettop/link.ts';
import { decodeFrame } from '../../../core/packet.ts';
import { check, hex, type Target } from '../engine.ts';
import { cut, fixtureFrames, generateFrame, type FrameInput } from '../gen-frames.ts';
import { mutateBytes } from '../mutate.ts';
import { guarded } from './frames.ts';

/** Records what FrameCounter tells the engine, one line per count. */
class Recorder {
  generation = 0;
  log: string[] = [];
  private readonly rows = new Map<string, Row>();

  constructor(private readonly memoNeverHits: boolean) {}

  /** No other network namespace here: only lo packets have two sides. */
  elsewhere(_ip: string): boolean {
    return false;
  }

  bucketOf(timeUs: number): number {
    if (this.memoNeverHits) this.generation++; // read by the memo right after: never the generation it stored
    return Math.floor(timeUs / 60e6);
  }

  /** The engine's one decision for a packet: here always an owner, valid for ever, counted in a row per flow. */
  side(_t: number, dev: string, dir: number, flow: FlowTuple, _flags: number, bytes: number): CachedFlow {
    const command = `${flow.proto} ${flow.localIp}:${flow.localPort} ${flow.remoteIp}:${flow.remotePort}`;
    const key = `${dev} ${command}`;
    let row = this.rows.get(key);
    if (!row) this.rows.set(key, (row = { pid: 1, uid: 0, command, cgroup: '', dev, xmitPk: 0, recvPk: 0, xmitBytes: 0, recvBytes: 0 }));
    this.log.push(`row ${key} ${dir ? 'RECV' : 'XMIT'} ${bytes}`);
    return { flow: { ...flow }, incoming: dir !== 0, owner: { pid: 1, uid: 0, command }, inode: 0, validUntilMs: Infinity, untilUs: Infinity, acc: row };
  }

  bump(a: Row, dir: number, bytes: number): void {
    this.log.push(`row ${a.dev} ${a.command} ${dir ? 'RECV' : 'XMIT'} ${bytes}`);
  }

  kernel(_t: number, dev: string, dir: number, bytes: number): void {
    this.log.push(`kernel ${dev} ${dir ? 'RECV' : 'XMIT'} ${bytes}`);
  }

  unknown(_t: number, dev: string, dir: number, bytes: number): void {
    this.log.push(`unknown ${dev} ${dir ? 'RECV' : 'XMIT'} ${bytes}`);
  }
}

const devName = (ifindex: number) => `if${ifindex}`;

export function nettopTarget(Counter: typeof FrameCounter = FrameCounter): Target<FrameInput> {
  const make = (never: boolean) => {
    const rec = new Recorder(never);
    return { rec, counter: new Counter(rec as unknown as NettopEngine, devName) };
  };
  const a = make(false);
  const b = make(false);
  const c = make(true);
  let n = 0;
  let buf = new Uint8Array(0);
  const t = 1_800_000_000_000_000;

  return {
    name: 'nettop:FrameCounter',
    what: "nettop's frame step (cooked v2 header, the FlowMemo fast path, decodeFrame) against a recording engine, three ways",
    coverage: ['probes/nettop/frames.ts', 'probes/nettop/fastpath.ts', 'core/packet.ts'],
    seeds: (rng) => fixtureFrames(rng, 276),
    generate: (rng) => generateFrame(rng, 276),
    mutate: (rng, input, other) => {
      // Mostly small edits: a frame that keeps its flow's key is what makes the memo hit.
      const bytes = rng.chance(0.5) ? mutateOnceLight(rng, input.bytes) : mutateBytes(rng, input.bytes, { maxLen: 2048, other: () => other().bytes });
      if (rng.chance(0.1)) return cut(rng, 276, bytes);
      return { linkType: 276, bytes, wireLen: bytes.length + Math.max(0, input.wireLen - input.bytes.length) };
    },
    run: (input, ctx) => {
      const { bytes } = input;
      const caplen = bytes.length;
      const wireLen = Math.max(input.wireLen, caplen);
      const timeUs = t + (n++ % 1000) * 1000;
      for (const x of [a, b, c]) x.rec.log.length = 0;
      const malformedBefore = a.counter.malformed;
      const bMalformedBefore = b.counter.malformed;

      a.counter.frame(bytes, 0, caplen, wireLen, timeUs);
      const off = 3 + (n % 29);
      if (buf.length < off + caplen + 64) buf = new Uint8Array(2 * (off + caplen + 64));
      buf.fill(0xa5, 0, off);
      buf.set(bytes, off);
      buf.fill(0x5a, off + caplen, off + caplen + 64);
      b.counter.frame(guarded(buf, off, off + caplen), off, caplen, wireLen, timeUs);
      c.counter.frame(bytes, 0, caplen, wireLen, timeUs);

      const la = a.rec.log.join('\n');
      check(la === b.rec.log.join('\n'), () => `at an offset in a larger buffer, the counts differ\nthere: ${b.rec.log.join('; ')}\nexact-size: ${la.replace(/\n/g, '; ')}`);
      check(a.counter.malformed - malformedBefore === b.counter.malformed - bMalformedBefore, 'malformed counted differently at an offset');
      if (caplen >= 20) {
        const bytesCounted = wireLen - 20 + linkHeaderLength((bytes[8]! << 8) | bytes[9]!);
        for (const line of a.rec.log) check(line.endsWith(` ${bytesCounted}`), () => `counted bytes are not the device's frame length\n${line}, device frame length ${bytesCounted}`);
      } else check(a.rec.log.length === 0 && a.counter.malformed === malformedBefore + 1, 'a frame shorter than the cooked header was counted');

      const lc = c.rec.log.join('\n');
      if (la !== lc) {
        // The memo hit where the full path decides differently.
        const d = decodeFrame(276, bytes, 0, caplen, wireLen);
        const rejected = typeof d === 'string';
        check(rejected, () => `the fast path counted a frame otherwise than the full path\nfast path: ${la.replace(/\n/g, '; ')}\nfull path: ${lc.replace(/\n/g, '; ')}`);
        ctx.note(`fast path counts a frame the full path rejects as ${d}: counted in the flow's row instead of ${lc.split(' ')[0]}`, `fast path: ${la.replace(/\n/g, '; ')}; full path: ${lc.replace(/\n/g, '; ')}`);
        return `memo differs (${d})`;
      }
      return a.rec.log.length ? a.rec.log.map((l) => l.split(' ')[0]).join('+') : 'malformed';
    },
    show: (input) => `LINUX_SLL2 wireLen ${input.wireLen} caplen ${input.bytes.length}: ${hex(input.bytes)}`,
    finish: () => [`fast-path (memo) hits: ${a.counter.memoHits.toLocaleString('en')} of ${a.counter.frames.toLocaleString('en')} frames`],
  };
}

/** One byte changed, anywhere: keeps most frames' flow key, so the memo is tried on a changed header. */
function mutateOnceLight(rng: { int(n: number): number }, b: Uint8Array): Uint8Array {
  const out = b.slice();
  if (out.length) out[rng.int(out.length)] = rng.int(256);
  return out;
}
