// pcapng round trips through Wireshark's reader: captures written by
// writePcapng, then read by `tshark -r FILE`, which prints each packet's
// fields (-T fields: interface and its name, timestamp, wire and captured
// lengths, comment) and writes back what it read (-w, pcapng), whose packet
// blocks give the bytes. Every packet is compared with what was written: the
// count, each field (timestamps to the µs), every byte. (tshark's -T ek -x
// does not serve for the bytes: it prints "field length invalid!" for a raw-IP
// frame cut by its snap length.) tshark takes a few seconds per 10,000
// packets, so this checks a few files of many packets each.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writePcapng, type PcapngPacket } from '../../core/pcapng.ts';
import { Rng } from './rng.ts';
import { generateCapture, type Capture } from './targets/pcapng.ts';

export interface TsharkResult {
  version: string | null;
  files: number;
  packets: number;
  ms: number;
  failures: { file: string; error: string }[];
  skipped?: string;
}

export function tsharkVersion(): string | null {
  const r = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? (r.stdout.split('\n')[0] ?? '').trim() : null;
}

const FIELDS = ['frame.interface_id', 'frame.interface_name', 'frame.time_epoch', 'frame.len', 'frame.cap_len', 'frame.comment'];

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('tshark', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: stderr.replace(/Running as user "root".*\n?/, '').trim() }));
  });
}

/** The packet blocks of a pcapng file (little-endian, as tshark writes here): their data. */
function packetData(file: string): Uint8Array[] {
  const b = readFileSync(file);
  const out: Uint8Array[] = [];
  for (let o = 0; o + 12 <= b.length; ) {
    const type = b.readUInt32LE(o);
    const len = b.readUInt32LE(o + 4);
    if (len < 12 || o + len > b.length) throw new Error(`tshark's pcapng: a block at ${o} of length ${len}`);
    if (type === 6) out.push(b.subarray(o + 28, o + 28 + b.readUInt32LE(o + 20)));
    o += len;
  }
  return out;
}

/** One file through tshark; resolves with the failures (empty when every packet matched). */
async function roundTrip(file: string, cap: Capture): Promise<string[]> {
  writeFileSync(file, writePcapng(cap.interfaces, cap.packets));
  const back = `${file}.tshark.pcapng`;
  const r = await run(['-r', file, '-n', '-w', back, '-F', 'pcapng', '-P', '-T', 'fields', '-E', 'separator=/t', '-E', 'quote=n', ...FIELDS.flatMap((f) => ['-e', f])]);
  const errors: string[] = [];
  const fail = (s: string) => errors.length < 10 && errors.push(s);
  if (r.code !== 0) fail(`tshark exited ${r.code}: ${r.stderr.slice(0, 500)}`);
  const lines = r.stdout.split('\n').filter((l) => l.length);
  if (lines.length !== cap.packets.length) fail(`tshark read ${lines.length} packets, ${cap.packets.length} were written`);
  let data: Uint8Array[] = [];
  try {
    data = packetData(back);
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
  }
  if (data.length !== cap.packets.length) fail(`tshark wrote back ${data.length} packets, ${cap.packets.length} were written`);
  lines.forEach((line, i) => {
    const p: PcapngPacket | undefined = cap.packets[i];
    if (!p) return;
    const [iface, name, epoch, len, caplen, comment] = line.split('\t');
    const where = `packet ${i + 1}`;
    const [sec, frac = ''] = (epoch ?? '').split('.');
    const us = /^\d+$/.test(sec ?? '') ? BigInt(sec!) * 1_000_000n + BigInt((frac + '000000').slice(0, 6)) : -1n;
    if (iface !== String(p.iface)) fail(`${where}: interface ${iface}, written ${p.iface}`);
    if (name !== cap.interfaces[p.iface]!.name) fail(`${where}: interface name ${JSON.stringify(name)}, written ${JSON.stringify(cap.interfaces[p.iface]!.name)}`);
    if (us !== BigInt(Math.round(p.time))) fail(`${where}: time ${epoch} (${us} µs), written ${Math.round(p.time)} µs`);
    if (len !== String(p.wireLen) || caplen !== String(p.data.length)) fail(`${where}: lengths ${len}/${caplen}, written ${p.wireLen}/${p.data.length}`);
    if ((comment ?? '') !== (p.comment ?? '')) fail(`${where}: comment ${JSON.stringify(comment)}, written ${JSON.stringify(p.comment)}`);
    const d = data[i];
    if (d && Buffer.compare(Buffer.from(d), Buffer.from(p.data)) !== 0) fail(`${where}: bytes ${Buffer.from(d).toString('hex').slice(0, 64)}…, written ${Buffer.from(p.data).toString('hex').slice(0, 64)}…`);
  });
  rmSync(back, { force: true });
  return errors;
}

export async function tsharkRoundTrips(opts: { seed: string; files: number; packetsPerFile: number; progress?: (files: number, packets: number) => void }): Promise<TsharkResult> {
  const version = tsharkVersion();
  const result: TsharkResult = { version, files: 0, packets: 0, ms: 0, failures: [] };
  if (!version) return { ...result, skipped: 'tshark is not installed (scripts/setup.sh installs it: apt-get install tshark)' };
  const rng = new Rng(`${opts.seed}:pcapng:tshark`);
  const dir = mkdtempSync(path.join(tmpdir(), 'netprobes-fuzz-'));
  const t0 = performance.now();
  let keep = false;
  try {
    for (let n = 0; n < opts.files; n++) {
      // Many packets per file: tshark's start-up is most of its cost for small files.
      const cap = generateCapture(rng, { maxPackets: 0, oversize: false, wild: false });
      let more: PcapngPacket[] = [];
      for (let k = 0; k < opts.packetsPerFile; k++) {
        while (!more.length) more = generateCapture(rng, { maxPackets: 64, oversize: false, wild: false }).packets;
        const p = more.pop()!;
        cap.packets.push({ ...p, iface: p.iface % cap.interfaces.length });
      }
      const file = path.join(dir, `${n}.pcapng`);
      const errors = await roundTrip(file, cap);
      result.files++;
      result.packets += cap.packets.length;
      if (errors.length) {
        keep = true;
        result.failures.push({ file, error: errors.join('\n') });
      } else rmSync(file);
      opts.progress?.(result.files, result.packets);
    }
  } catch (e) {
    result.failures.push({ file: '(run)', error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
  result.ms = performance.now() - t0;
  return result;
}
