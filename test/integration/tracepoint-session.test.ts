// The tracepoint session on a real kernel: the per-CPU stats files are read on
// a fixed cadence (once a second and at close), not on every read; close() is
// idempotent and leaves no instance (the tasks' one included) and no open fd;
// a set-up that throws leaves nothing either.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { need } from '../helpers/env.ts';
import { netprobesInstances, sleep } from '../helpers/tracefs.ts';
import { TracepointSession } from '../../runtime/tracepoint-session.node.ts';
import { field } from '../../core/tracefs/format.ts';

/** This process's open fds on tracefs files. */
function tracefsFds(): string[] {
  return readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    })
    .filter((target) => target.includes('/tracing/'));
}

test('tracepoint session: stats once a second, events decoded by id, close() idempotent and clean', { timeout: 30_000 }, async (t) => {
  if (!need(t, 'root')) return;
  const session = new TracepointSession({ bufferKb: 256 });
  let drops = 0;
  session.on('skb', 'kfree_skb', (format) => {
    const locF = field(format, 'location');
    return (buf, off) => {
      if (buf.readBigUInt64LE(off + locF.offset) !== 0n) drops++;
    };
  });
  session.trackTasks();
  session.start();
  assert.equal(netprobesInstances().length, 2, 'the probe instance and the tasks instance');
  assert.ok(tracefsFds().length > 0);

  // UDP to a closed port: a drop each.
  execFileSync('/usr/bin/python3', ['-c', "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor i in range(5): s.sendto(b'x',('127.0.0.1',9))"]);
  session.read();
  const first = session.statsReads;
  assert.equal(first, 1, 'the first read reads the stats');
  // Time is what is tested: the stats are read at most once a second, however often the events are.
  for (let i = 0; i < 10; i++) {
    await sleep(40);
    session.read();
  }
  assert.equal(session.statsReads, first, 'not on every read');
  await sleep(1000);
  session.read();
  assert.equal(session.statsReads, first + 1, 'once a second');
  assert.ok(drops >= 5, `drops ${drops}`);
  assert.equal(session.overruns(), 0);

  session.close();
  session.close();
  assert.deepEqual(netprobesInstances(), []);
  assert.deepEqual(tracefsFds(), []);
  assert.equal(session.overruns(), 0, 'the last counts stand after close');
});

test('tracepoint session: a set-up that throws leaves no instance', (t) => {
  if (!need(t, 'root')) return;
  assert.throws(
    () =>
      TracepointSession.run({}, (session) => {
        session.trackTasks();
        session.on('nosuchsystem', 'nosuchevent', () => () => undefined);
      }),
    /tracepoint nosuchsystem:nosuchevent is missing/,
  );
  assert.deepEqual(netprobesInstances(), []);
});
