// Capture filters from the user: bounded in length where options are parsed
// (the host refuses a longer one before it reaches the collector), and checked
// by libpcap in a child process under a time bound, with a clear error for
// each way it can fail. No capture is opened here (pcap_open_dead), so no root.

import assert from 'node:assert/strict';
import childProcess from 'node:child_process';
import { describe, test } from 'node:test';
import { parseProbeArgs, UsageError } from '../../cli/args.ts';
import { checkFilter, refuseFilter } from '../../kernel/capture/filter-check.node.ts';
import { MAX_FILTER_CHARS } from '../../core/probe-options.ts';
import { PROBES } from '../../probes/registry.ts';
import { parseCommand } from '../../ipc/protocol.ts';
import { ProbeError } from '../../core/probe-error.ts';
import { LinkType } from '../../core/packet.ts';

/** "port 1 or port 2 or ..." up to `chars` characters: the kind of list libpcap's optimizer is slowest on. */
function portList(chars: number, unit = (i: number) => `port ${i}`): string {
  const parts: string[] = [];
  for (let i = 1; [...parts, unit(i)].join(' or ').length <= chars; i++) parts.push(unit(i));
  return parts.join(' or ');
}

const LO = { linkType: LinkType.EN10MB, snaplen: 256, device: 'lo' };
const ANY = { linkType: LinkType.LINUX_SLL2, snaplen: 256, device: 'any' };

describe('filter length bound', () => {
  const tcpdump = PROBES.tcpdump;
  const options = (filter: string) => ({ ifaces: [], filter, bothDirections: false });

  test(`the option schema accepts ${MAX_FILTER_CHARS} characters and refuses one more`, () => {
    assert.equal(MAX_FILTER_CHARS, 1024);
    assert.equal(tcpdump.options.parse(options('x'.repeat(1024)), 'options').filter.length, 1024);
    assert.throws(() => tcpdump.options.parse(options('x'.repeat(1025)), 'options'), /options\.filter: expected string of 0\.\.1024 chars/);
  });

  test('the CLI names the flag and the limit', () => {
    assert.throws(() => parseProbeArgs(tcpdump, ['--filter', 'x'.repeat(1025)]), (e: unknown) => e instanceof UsageError && /invalid --filter: expected string of 0\.\.1024 chars/.test(e.message));
  });

  test('the collector refuses a start command carrying a longer one (the host refuses it first)', () => {
    assert.throws(() => parseCommand({ type: 'start', probe: 'tcpdump', options: options('x'.repeat(2048)) }), /filter/);
  });

  test('refuseFilter: too long, or a NUL that C would stop at', () => {
    const long = refuseFilter('x'.repeat(1025));
    assert.ok(long instanceof ProbeError && long.kind === 'input');
    assert.equal(long.message, 'the filter expression is 1025 characters long; at most 1024 are accepted');
    assert.match(refuseFilter('tcp\0 or udp')!.message, /NUL/);
    assert.equal(refuseFilter(portList(1024)), null);
  });
});

describe('checkFilter: libpcap in a child process, under a time bound', () => {
  const rejectsWith = async (p: Promise<void>, kind: ProbeError['kind'], message: RegExp) => {
    await assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof ProbeError, `a ProbeError, not ${String(e)}`);
      assert.equal(e.kind, kind);
      assert.match(e.message, message);
      return true;
    });
  };

  test('a valid expression passes, for Ethernet and for cooked v2 ("any")', async () => {
    await checkFilter('tcp port 80 and host 127.0.0.1', LO);
    await checkFilter('inbound and ifindex 1 and udp', ANY);
    await checkFilter(portList(1000), ANY);
  });

  test("an invalid one is an input error carrying libpcap's own words", async () => {
    await rejectsWith(checkFilter('tcp port', LO), 'input', /^bad filter expression 'tcp port': .*syntax error/);
    await rejectsWith(checkFilter('tcp port banana', LO), 'input', /^bad filter expression 'tcp port banana': unknown port 'banana'$/);
    // Valid grammar, but not for this link type: the check compiles for the capture's own.
    await rejectsWith(checkFilter('vlan 2', ANY), 'input', /no VLAN support for Linux cooked v2/);
    await checkFilter('vlan 2', LO);
  });

  test('a long quoted expression is cut in the message', async () => {
    const bad = `${portList(900)} or port`;
    await rejectsWith(checkFilter(bad, LO), 'input', /^bad filter expression 'port 1 or port 2 .{70,}…': .*syntax error/);
  });

  test('one slower than the bound is killed and named as too slow', async () => {
    // ~0.2 s of compiling (measured), against a 30 ms bound.
    const slow = portList(1024, (i) => `portrange ${i}-${i + 1}`);
    const started = performance.now();
    await rejectsWith(checkFilter(slow, LO, 30), 'input', /^the filter expression took longer than 0\.03 s to compile .*shorten it/);
    assert.ok(performance.now() - started < 5000);
  });

  test('one too long is refused before any child process is started', async (t) => {
    const spawn = t.mock.method(childProcess, 'spawn');
    await rejectsWith(checkFilter('x'.repeat(1025), LO), 'input', /1025 characters long; at most 1024/);
    assert.equal(spawn.mock.callCount(), 0);
    await checkFilter('udp', LO);
    assert.equal(spawn.mock.callCount(), 1, 'a filter within the bound is checked in a child');
  });
});
