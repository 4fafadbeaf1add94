// CLI argument parsing, the CSV/JSON formats and the seed-format printer of the tcpdump probe.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseProbeArgs, probeHelp, UsageError } from '../../cli/args.ts';
import { PROBES } from '../../probes/registry.ts';
import { columnsFor } from '../../core/probe.ts';
import type { PacketRow } from '../../probes/tcpdump/definition.ts';
import { csvField, csvHeader, csvLine, isoMicros, jsonLine, toCsv } from '../../core/format.ts';
import { printTcpdump } from '../../probes/tcpdump/print.ts';

const tcpdump = PROBES.tcpdump;
/** The columns without --process: the seed's layout. */
const seedColumns = columnsFor(tcpdump.columns, {});
const row: PacketRow = { time: 1795595516866889, dev: 'lo', src: '127.0.0.1', dst: '10.0.0.1', sport: 80, dport: 20373, proto: 'TCP', urg: false, ack: true, psh: true, rst: false, syn: false, fin: false, length: 52, pid: 0, command: '', uid: 0, cgroup: '' };

describe('netprobes tcpdump arguments', () => {
  test('shared and probe flags, repeated --iface, = and space forms', () => {
    const a = parseProbeArgs(tcpdump, ['--iface', 'lo', '--iface=eth0', '--filter', 'tcp port 80', '--both', '--format=csv', '--duration', '3']);
    assert.deepEqual(a, { help: false, format: 'csv', duration: 3, options: { ifaces: ['lo', 'eth0'], filter: 'tcp port 80', bothDirections: true } });
    assert.deepEqual(parseProbeArgs(tcpdump, []).options, tcpdump.defaults);
  });
  test('bad input gets a clear error', () => {
    const cases: [string[], RegExp][] = [
      [['--format', 'xml'], /--format must be table, csv or json/],
      [['--duration', '0'], /--duration must be a positive whole number/],
      [['--nosuch'], /unknown option --nosuch for tcpdump/],
      [['--iface', 'a/b'], /invalid --iface/],
      [['--iface'], /--iface needs a value/],
      [['stray'], /unexpected argument 'stray'/],
    ];
    for (const [argv, msg] of cases) assert.throws(() => parseProbeArgs(tcpdump, argv), (e: unknown) => e instanceof UsageError && msg.test(e.message), argv.join(' '));
  });
  test('int flags take 0 when the probe\'s schema does (socket-trace --rate 0 = no limit); --duration stays ≥ 1', () => {
    const st = PROBES['socket-trace'];
    assert.equal((parseProbeArgs(st, ['--rate', '0']).options as { rate: number }).rate, 0);
    assert.equal((parseProbeArgs(st, ['--rate=0', '--pid', '0']).options as { pid: number }).pid, 0);
    assert.match(probeHelp(st), /0 = no limit/);
    const bad: [string[], RegExp][] = [
      [['--rate', '-1'], /--rate must be a whole number, not '-1'/],
      [['--rate', '1.5'], /--rate must be a whole number/],
      [['--rate', '2000000'], /invalid --rate/], // the schema's range
      [['--duration', '0'], /--duration must be a positive whole number/],
    ];
    for (const [argv, msg] of bad) assert.throws(() => parseProbeArgs(st, argv), (e: unknown) => e instanceof UsageError && msg.test(e.message), argv.join(' '));
    // where 0 means nothing, the schema still refuses it
    assert.throws(() => parseProbeArgs(PROBES.dropwatch, ['--interval', '0']), (e: unknown) => e instanceof UsageError && /invalid --interval/.test(e.message));
  });
  test('--help documents every flag and column', () => {
    const help = probeHelp(tcpdump);
    for (const f of tcpdump.flags) assert.ok(help.includes(`--${f.name}`));
    for (const c of tcpdump.columns) assert.ok(help.includes(c.csv));
  });
});

describe('formats', () => {
  test('CSV has exactly the issue\'s columns, flags as 0/1, ISO 8601 time with microseconds', () => {
    assert.equal(csvHeader(seedColumns), 'TIME,DEV,SOURCE_IP,DEST_IP,SPORT,DPORT,PROTO,U,A,P,R,S,F,LENGTH');
    assert.equal(csvLine(seedColumns, row), '2026-11-25T08:31:56.866889Z,lo,127.0.0.1,10.0.0.1,80,20373,TCP,0,1,1,0,0,0,52');
    // --process adds PID,COMMAND,UID (the cgroup is in JSON and the GUI only).
    const withProcess = columnsFor(tcpdump.columns, { process: true });
    assert.equal(csvHeader(withProcess), 'TIME,DEV,SOURCE_IP,DEST_IP,SPORT,DPORT,PROTO,U,A,P,R,S,F,LENGTH,PID,COMMAND,UID');
    assert.equal(csvLine(withProcess, { ...row, pid: 42, command: 'curl', uid: 1000 }), '2026-11-25T08:31:56.866889Z,lo,127.0.0.1,10.0.0.1,80,20373,TCP,0,1,1,0,0,0,52,42,curl,1000');
  });
  test('RFC 4180 quoting and CRLF line ends', () => {
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('two\nlines'), '"two\nlines"');
    assert.equal(toCsv(seedColumns, [row]).split('\r\n').length, 3);
  });
  test('microseconds are kept exactly', () => {
    assert.equal(isoMicros(0), '1970-01-01T00:00:00.000000Z');
    assert.equal(isoMicros(1_000_001), '1970-01-01T00:00:01.000001Z');
    assert.equal(isoMicros(1795595516999999), '2026-11-25T08:31:56.999999Z');
  });
  test('JSON lines use the CSV names', () => {
    assert.deepEqual(JSON.parse(jsonLine(seedColumns, row)), { TIME: '2026-11-25T08:31:56.866889Z', DEV: 'lo', SOURCE_IP: '127.0.0.1', DEST_IP: '10.0.0.1', SPORT: 80, DPORT: 20373, PROTO: 'TCP', U: 0, A: 1, P: 1, R: 0, S: 0, F: 0, LENGTH: 52 });
  });
});

describe("tcpdumplike.stp's layout", () => {
  test('header block and rows as the seed prints them', () => {
    const p = printTcpdump();
    assert.deepEqual(p.begin(), [
      '-----------------------------------------------------------------',
      '       Source IP         Dest IP  SPort  DPort  U  A  P  R  S  F ',
      '-----------------------------------------------------------------',
    ]);
    // The seed's own sample row: "  209.85.229.147       10.0.2.15     80  20373  0  1  1  0  0  0"
    assert.deepEqual(p.rows([{ ...row, src: '209.85.229.147', dst: '10.0.2.15' }]), ['  209.85.229.147       10.0.2.15     80  20373  0  1  1  0  0  0']);
    assert.deepEqual(p.rows([{ ...row, proto: 'UDP' }]), ['       127.0.0.1        10.0.0.1     80  20373  UDP']);
    assert.equal(p.tickMs, 1000);
  });
});
