// The CLI's claims in the README, end to end as a user runs them: the top-level --help names every probe and
// command, the tracefs probes refuse an unprivileged user in one line, --format json carries what was sent, and
// socket-trace --tid keeps one thread of a process.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { spawn } from 'node:child_process';
import { need } from '../helpers/env.ts';
import { CLI, netprobes, waitForOutput } from '../helpers/run.ts';

test('top-level --help names each of the five probes and the serve, app, exporter and history commands, and exits 0', async () => {
  const r = await netprobes(['--help']).done;
  assert.equal(r.code, 0);
  const probes = [...r.stdout.slice(r.stdout.indexOf('probes:')).matchAll(/^ {2}([a-z-]+) {2,}/gm)].map((m) => m[1]);
  assert.deepEqual(probes.slice(0, 5), ['nettop', 'socket-trace', 'tcp-connections', 'tcpdump', 'dropwatch']);
  for (const command of ['serve', 'app', 'exporter', 'history']) assert.match(r.stdout, new RegExp(`npx netprobes ${command}\\b`));
  const unknown = await netprobes(['no-such-probe']).done;
  assert.equal(unknown.code, 2, 'an unknown command is a usage error');
  assert.match(unknown.stderr, /no-such-probe/);
});

for (const probe of ['dropwatch', 'tcp-connections', 'socket-trace']) {
  test(`${probe} as an unprivileged user: exits non-zero with one line that says it needs root`, async (t) => {
    if (!need(t, 'root')) return; // root is needed to become another user
    const r = await netprobes([probe, '--duration', '1'], { uid: 65534, gid: 65534 }).done;
    assert.notEqual(r.code, 0);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /needs root/);
    assert.match(lines[0]!, /sudo/, 'and how to get it');
    assert.equal(r.stdout, '', 'no header, no rows');
  });
}

test('--format json: one object a line, keyed by the CSV names, with the values sent', { timeout: 30_000 }, async (t) => {
  if (!need(t, 'root')) return;
  const receiver = dgram.createSocket('udp4');
  await new Promise<void>((r) => receiver.bind(0, '127.0.0.1', r));
  const port = receiver.address().port;
  const run = netprobes(['tcpdump', '--iface', 'lo', '--filter', `udp dst port ${port}`, '--format', 'json', '--duration', '4']);
  let stdout = '';
  run.child.stdout!.on('data', (d) => (stdout += d));
  const sender = dgram.createSocket('udp4');
  await new Promise<void>((r) => sender.bind(0, '127.0.0.1', r));
  const sport = sender.address().port;
  const send = (size: number) => new Promise<void>((r, j) => sender.send(Buffer.alloc(size), port, '127.0.0.1', (e) => (e ? j(e) : r())));
  // JSON has no header to say capture has begun: a 1-byte marker every 100 ms until one comes back as a row.
  let markers = 0;
  for (const end = Date.now() + 10_000; !stdout.includes('\n'); markers++) {
    assert.ok(Date.now() < end, 'no row within 10 s');
    await send(1);
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const size of [10, 200, 1000]) await send(size);
  const out = await run.done;
  sender.close();
  receiver.close();
  assert.equal(out.code, 0, out.stderr);
  const rows = out.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(rows.length <= markers + 3 && rows.slice(0, -3).every((r) => r.LENGTH === 29), 'first the markers that were captured');
  for (const [i, size] of [10, 200, 1000].entries()) {
    const { TIME, ...rest } = rows[rows.length - 3 + i]!;
    assert.match(String(TIME), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.deepEqual(rest, { DEV: 'lo', SOURCE_IP: '127.0.0.1', DEST_IP: '127.0.0.1', SPORT: sport, DPORT: port, PROTO: 'UDP', U: 0, A: 0, P: 0, R: 0, S: 0, F: 0, LENGTH: 28 + size });
  }
  assert.match(out.stderr, new RegExp(`seen ${rows.length} frames, shown ${rows.length} rows, lost 0`));
});

test('socket-trace --tid: only the chosen thread of a two-thread process, every one of its calls', { timeout: 40_000 }, async (t) => {
  if (!need(t, 'root')) return;
  // Two threads each make a known number of sendto() calls once told to start (a line on stdin); each prints its
  // thread id first.
  const script = `
import socket, sys, threading
counts = {'a': 7, 'b': 11}
go = threading.Event()
say = threading.Lock()
def work(name):
    with say:
        print(name, threading.get_native_id(), flush=True)
    go.wait()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(counts[name]):
        s.sendto(b'x', ('127.0.0.1', 9))
    s.close()
ts = [threading.Thread(target=work, args=(n,)) for n in counts]
for th in ts: th.start()
sys.stdin.readline()
go.set()
for th in ts: th.join()
print('done', flush=True)
`;
  const child = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const ids = await waitForOutput(child, /^a \d+\n(?:.|\n)*^b \d+\n|^b \d+\n(?:.|\n)*^a \d+\n/m);
    const tidOf = (n: string) => Number(new RegExp(`${n} (\\d+)`).exec(ids)![1]);
    const [a, b] = [tidOf('a'), tidOf('b')];
    const run = netprobes(['socket-trace', '--tid', String(b), '--rate', '0', '--format', 'csv']);
    await waitForOutput(run.child, /^TIME,/m, 15_000); // the header comes once the tracepoints are on
    child.stdin.write('go\n');
    await waitForOutput(child, /done/);
    run.child.kill('SIGINT');
    const out = await run.done;
    const rows = out.stdout.trim().split('\n').slice(1).map((l) => l.split(','));
    // TIME,REL_US,COMM,PID,TID,DEPTH,DIRECTION,FUNCTION
    assert.ok(rows.length > 0, out.stderr);
    assert.ok(rows.every((r) => Number(r[4]) === b), `only thread ${b} (not ${a})`);
    const calls = rows.filter((r) => r[7] === 'sys_sendto' && r[6] === 'call').length;
    assert.equal(calls, 11, 'each sendto of thread b, none of thread a');
    assert.match(out.stderr, /lost 0 /);
  } finally {
    child.kill();
  }
});

test('`netprobes app` (npm start) without a display or without Electron says why and serves the GUI to a browser', { timeout: 30_000 }, async () => {
  const { DISPLAY: _d, WAYLAND_DISPLAY: _w, ...env } = process.env;
  const cases = [
    { env, why: /not starting the desktop app: .*(no display|binary is not installed)/ },
    // A display, but no Electron binary where the package says it is.
    { env: { ...env, DISPLAY: ':99', ELECTRON_OVERRIDE_DIST_PATH: '/nonexistent' }, why: /not starting the desktop app: Electron's binary is not installed/ },
  ];
  for (const c of cases) {
    const child = spawn(process.execPath, [CLI, 'app', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'], env: c.env });
    try {
      const said = await waitForOutput(child, new RegExp(`${c.why.source}[\\s\\S]*http://127\\.0\\.0\\.1:\\d+/\\?token=\\S+`));
      const url = /http:\/\/127\.0\.0\.1:\d+\/\?token=\S+/.exec(said)![0];
      const page = await fetch(url);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<div id="root">/);
    } finally {
      child.kill();
    }
  }
});
