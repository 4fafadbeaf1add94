// nettop's one attribution decision, asked directly: the owner with its
// validity (the flow cache's entry), or why the packets must wait.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SocketIndex, type Owner } from '../../attribution/socket-index.ts';
import type { EndpointLookup } from '../../attribution/recent-endpoints.ts';
import { Attributor, HOLD_FOR_SCAN, HOLD_FOR_TRACE, HOLD_TRACE_SILENT, KERNEL } from '../../attribution/attributor.ts';
import { FlowCache } from '../../attribution/flow-cache.ts';
import { flowKey, flowTuple, RECV, XMIT } from '../../attribution/flow.ts';
import { procSocket } from './nettop-fixtures.ts';

const T0_MS = 1_700_000_000_000;
const T0 = T0_MS * 1000;
const server: Owner = { pid: 4242, uid: 1000, command: 'server' };
const gone: Owner = { pid: 777, uid: 0, command: 'gone' };
const limits = { positiveTtlMs: 5000, negativeTtlMs: 1000 };

const toServer = flowTuple('UDP', '127.0.0.1', 45003, '127.0.0.1', 5000);
const fromGone = flowTuple('UDP', '127.0.0.1', 40000, '127.0.0.1', 9);

function attributor(recent: EndpointLookup | null) {
  const cache = new FlowCache(100);
  const counts = { traced: 0 };
  return { decider: new Attributor(cache, limits, recent, counts), cache, counts };
}

/** Recent endpoints complete up to completeUs, naming `gone` as the sender from port 40000. */
function recentUpTo(completeUs: number): EndpointLookup {
  return {
    ready: (timeUs) => timeUs <= completeUs,
    completeUntilUs: () => completeUs,
    lookup: (flow) => (flow.localPort === 40000 ? gone : null),
  };
}

test('attributor: a process in the snapshot decides at once, valid for positiveTtlMs and any capture time', () => {
  const { decider, cache } = attributor(null);
  decider.setSnapshot(new SocketIndex([procSocket('UDP', '0.0.0.0', 45003, '0.0.0.0', 0, 8)], new Map([[8, server]])), T0_MS, T0_MS);
  const decision = decider.decide(flowKey(RECV, toServer), toServer, RECV, 0, T0 + 10, T0 + 10, T0_MS + 1);
  assert.ok(typeof decision === 'object');
  assert.deepEqual([decision.owner, decision.validUntilMs, decision.untilUs], [server, T0_MS + 1 + 5000, Infinity]);
  assert.equal(cache.get(flowKey(RECV, toServer), T0_MS + 2, T0 + 20), decision, 'remembered as the flow cache entry');
});

test('attributor: without an owner it holds for a rescan, for the trace, or — the trace silent — for a rescan after its next read', () => {
  const empty = new SocketIndex([], new Map());
  const procOnly = attributor(null);
  procOnly.decider.setSnapshot(empty, T0_MS, T0_MS);
  assert.equal(procOnly.decider.decide('k', toServer, RECV, 0, T0 + 10, T0 + 10, T0_MS), HOLD_FOR_SCAN, 'the snapshot is older than the packet');

  const unread = attributor(recentUpTo(T0));
  unread.decider.setSnapshot(empty, T0_MS, T0_MS);
  assert.equal(unread.decider.decide('k', fromGone, XMIT, 0, T0 + 10, T0 + 10, T0_MS), HOLD_FOR_TRACE, 'a sent packet waits for the trace first');
  assert.equal(unread.decider.decide('k', toServer, RECV, 0, T0 + 10, T0 + 10, T0_MS), HOLD_FOR_SCAN, 'a received datagram waits for /proc');

  const silent = attributor(recentUpTo(T0 + 100));
  silent.decider.setSnapshot(empty, T0_MS, T0_MS);
  const other = flowTuple('UDP', '127.0.0.1', 40001, '127.0.0.1', 9);
  assert.equal(silent.decider.decide('k', other, XMIT, 0, T0 + 10, T0 + 10, T0_MS), HOLD_TRACE_SILENT);
});

test('attributor: the trace names a sender before /proc looks, valid only as far as it was read; a final verdict holds for any capture time', () => {
  const { decider, counts } = attributor(recentUpTo(T0 + 100));
  decider.setSnapshot(new SocketIndex([], new Map()), T0_MS, T0_MS);
  const named = decider.decide(flowKey(XMIT, fromGone), fromGone, XMIT, 0, T0 + 10, T0 + 10, T0_MS);
  assert.ok(typeof named === 'object');
  assert.deepEqual([named.owner, named.validUntilMs, named.untilUs, counts.traced], [gone, T0_MS + 1000, T0 + 100, 1]);

  decider.dropRecent();
  decider.setSnapshot(new SocketIndex([], new Map()), T0_MS + 50, T0_MS + 50);
  const closedPort = decider.decide(flowKey(RECV, toServer), toServer, RECV, 0, T0 + 10, T0 + 10, T0_MS + 50);
  assert.ok(typeof closedPort === 'object');
  assert.deepEqual([closedPort.owner, closedPort.untilUs], [KERNEL, Infinity]);
});
