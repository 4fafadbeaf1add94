// CLI argument parsing, the CSV/JSON formats and the seed-format printer of the tcpdump probe.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseProbeArgs, probeHelp, UsageError } from '../../cli/args.ts';
import { PROBES, type AnyProbe } from '../../probes/registry.ts';
import { columnsFor, type Column } from '../../core/probe.ts';
import type { PacketRow } from '../../probes/tcpdump/definition.ts';
import { csvField, csvHeader, csvLine, isoMicros, jsonLine, toCsv } from '../../core/format.ts';
import { printTcpdump } from '../../probes/tcpdump/print.ts';

const tcpdump = PROBES.tcpdump;

/** A value each flag accepts, chosen by hand (not from the definition the help is printed from). */
function sampleValue(probe: string, flag: string): string {
  const samples: Record<string, string> = { '--duration': '3', '--iface': 'lo', '--filter': 'udp', '--interval': '2', '--comm': 'curl', '--pid': '1', '--tid': '1', '--rate': '100', '--port': '80', '--history-db': '/tmp/np-help-test.db', '--read': '/tmp/np-help-test.pcap' };
  const v = samples[flag];
  assert.ok(v !== undefined, `${probe}: no sample value for ${flag}; add one`);
  return v;
}
/** The columns without --process: the seed's layout. */
const seedColumns = columnsFor(tcpdump.columns, {});
const row: PacketRow = { time: 1795595516866889, dev: 'lo', src: '127.0.0.1', dst: '10.0.0.1', sport: 80, dport: 20373, proto: 'TCP', urg: false, ack: true, psh: true, rst: false, syn: false, fin: false, length: 52, pid: 0, command: '', uid: 0, cgroup: '' };

describe('netprobes tcpdump arguments', () => {
  test('shared and probe flags, repeated --iface, = and space forms', () => {
    const a = parseProbeArgs(tcpdump, ['--iface', 'lo', '--iface=eth0', '--filter', 'tcp port 80', '--both', '--format=csv', '--duration', '3']);
    assert.deepEqual(a, { help: false, format: 'csv', duration: 3, record: false, historyDb: null, options: { ifaces: ['lo', 'eth0'], filter: 'tcp port 80', bothDirections: true, pid: 0, comm: '' } });
    assert.deepEqual(parseProbeArgs(tcpdump, ['--pid', '42', '--comm=nginx']).options, { ...tcpdump.defaults, pid: 42, comm: 'nginx' });
    assert.deepEqual(parseProbeArgs(tcpdump, []).options, tcpdump.defaults);
    const r = parseProbeArgs(tcpdump, ['--history-db', '/tmp/h.db']);
    assert.deepEqual([r.record, r.historyDb], [true, '/tmp/h.db']);
    assert.equal(parseProbeArgs(tcpdump, ['--record']).record, true);
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
  test('--help lists exactly the flags the parser takes and exactly the CSV header, for every probe', () => {
    for (const probe of Object.values(PROBES) as AnyProbe[]) {
      const columns = probe.columns as readonly Column<object>[];
      const help = probeHelp(probe).split('\n');
      const section = (title: string) => {
        const from = help.indexOf(title) + 1;
        assert.ok(from > 0, `${probe.id}: no "${title}" section`);
        const to = help.indexOf('', from);
        return help.slice(from, to === -1 ? undefined : to).map((l) => l.trim().split(/\s+/));
      };
      // Columns: the first word of each line, in order, is the header a CSV run prints.
      const csvColumns = section('columns (CSV and JSON):').map((w) => w[0]);
      assert.deepEqual(csvColumns, csvHeader(columns).split(','), probe.id);
      // ... and with the JSON-only ones, the keys of a JSON line.
      const jsonOnly = help.includes('columns in JSON only:') ? section('columns in JSON only:').map((w) => w[0]) : [];
      const sampleRow = Object.fromEntries(probe.columns.map((c) => [c.key, c.type === 'text' ? '' : c.type === 'flag' ? false : 0]));
      assert.deepEqual(new Set([...csvColumns, ...jsonOnly]), new Set(Object.keys(JSON.parse(jsonLine(columns, sampleRow)))), probe.id);
      // Flags: each one listed is accepted by the parser (with its value where it shows one), and the parser takes no
      // flag the help leaves out.
      const listed = section('options:').map(([flag, value]) => ({ flag: flag!, value: value && /^[A-Z]+$/.test(value) ? value : null }));
      for (const { flag, value } of listed) {
        if (flag === '--help') continue;
        const sample = flag === '--format' ? 'csv' : value ? sampleValue(probe.id, flag) : null;
        assert.doesNotThrow(() => parseProbeArgs(probe, sample === null ? [flag] : [flag, sample]), `${probe.id} ${flag}`);
      }
      const names = new Set(listed.map((l) => l.flag));
      for (const f of probe.flags) assert.ok(names.has(`--${f.name}`), `${probe.id}: --${f.name} missing from --help`);
      assert.throws(() => parseProbeArgs(probe, ['--no-such-flag']), UsageError);
    }
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
