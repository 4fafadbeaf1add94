// tcpdump --read FILE: a pcap or pcapng file replayed through the same row
// maker as live capture (rows.ts), so the same traffic gives the same rows.
// The file is read in chunks (core/capture-file.ts parses them), at the pace
// the consumer takes the rows (sink.ready). Process columns come from
// NetProbes' own EPB comments (`pid=…, comm=…, uid=…, cgroup=…`); a packet
// without one is -1 / unknown. Names: a pcapng interface's if_name; a pcap
// file has none (--iface NAME names it); a cooked capture's interface index is
// named as on this host, as live capture does.

import { open } from 'node:fs/promises';
import { CaptureFileError, CaptureFileParser, MAX_BLOCK_BYTES, type FileRecord } from '../../core/capture-file.ts';
import { parseProcessComment } from '../../core/pcapng.ts';
import { ProbeError } from '../../core/probe-error.ts';
import type { Decoded } from '../../core/packet.ts';
import { InterfaceNames } from '../../kernel/interfaces.node.ts';
import type { ProbeSink, RunningProbe } from '../../runtime/source.ts';
import { UNKNOWN } from '../../attribution/owner.ts';
import type { PacketRow, TcpdumpOptions } from './definition.ts';
import { FrameRows, isOutgoing } from './rows.ts';

const CHUNK_BYTES = 4 << 20;

export async function readCaptureFile(options: TcpdumpOptions, sink: ProbeSink<PacketRow>): Promise<RunningProbe> {
  const path = options.read!;
  if (options.filter) throw new ProbeError('input', '--filter is not applied to a file (--read): filter the rows instead');
  if (options.ifaces.length > 1) throw new ProbeError('input', 'with --read, --iface names the interface of a pcap file: give it once');
  let file;
  try {
    file = await open(path, 'r');
  } catch (e) {
    throw new ProbeError('input', `cannot open ${path}: ${(e as Error).message}`);
  }
  const names = new InterfaceNames();
  const frames = new FrameRows();
  const parser = new CaptureFileParser();
  const counts = { sent: 0, fromComments: 0, bytesRead: 0 };
  let stopped = false;

  let fileIface = '';
  const devName = (d: Decoded) => (d.ifindex >= 0 ? names.name(d.ifindex) : fileIface || options.ifaces[0] || '');
  const onRecord = (r: FileRecord) => {
    const iface = parser.interfaces[r.iface]!;
    fileIface = iface.name;
    const made = frames.row(iface.linkType, r.buf, r.offset, r.caplen, r.wireLen, r.timeUs, devName);
    if (!made) return;
    if (!options.bothDirections && isOutgoing(made.decoded)) {
      counts.sent++;
      frames.counts.rows--; // as live capture without --both: never a row
      return;
    }
    const owner = r.comments.map(parseProcessComment).find((o) => o !== null) ?? null;
    const row = made.row;
    if (owner) counts.fromComments++;
    const o = owner ?? UNKNOWN;
    row.pid = o.pid;
    row.command = o.command;
    row.uid = o.uid;
    row.cgroup = o.cgroup ?? '';
    sink.row(row);
  };

  const finished = (async () => {
    let buf = new Uint8Array(CHUNK_BYTES);
    let have = 0;
    try {
      while (!stopped) {
        if (have === buf.length) {
          if (buf.length >= MAX_BLOCK_BYTES * 2) throw new CaptureFileError('a record larger than the reader takes: malformed');
          const bigger = new Uint8Array(buf.length * 2);
          bigger.set(buf.subarray(0, have));
          buf = bigger;
        }
        const { bytesRead } = await file.read(buf, have, buf.length - have, null);
        counts.bytesRead += bytesRead;
        have += bytesRead;
        const used = parser.parse(buf, have, onRecord);
        buf.copyWithin(0, used, have);
        have -= used;
        if (bytesRead === 0) {
          if (have) throw new CaptureFileError(`the file ends inside a record (${have} bytes left): cut short`);
          break;
        }
        await sink.ready?.();
      }
    } catch (e) {
      if (!stopped) sink.fail(e instanceof CaptureFileError ? new ProbeError('input', `${path}: ${e.message}`) : (e as Error));
    } finally {
      await file.close().catch(() => {});
    }
  })();

  return {
    description: `the file ${path}`,
    use: { facility: 'libpcap', lacks: [] },
    counters: () => ({ ...frames.counts, ...counts }),
    stop: async () => {
      stopped = true;
      await finished;
    },
    finished,
  };
}

