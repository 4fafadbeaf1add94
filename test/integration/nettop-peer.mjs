// A traffic peer for the nettop tests: its own process (known PID, a command
// name set through process.title, optionally another uid), which does one
// known exchange, reports on stdout as JSON lines, and then STAYS ALIVE until
// its stdin closes — so its sockets can be looked up while the test runs.
//   NAME udp-recv HOST                        binds port 0, counts datagrams
//   NAME udp-send HOST PORT COUNT SIZE         sends COUNT datagrams of SIZE bytes, one at a time
//   NAME tcp-server HOST                       accepts connections, echoes, ends each on EOF
//   NAME tcp-client HOST PORT MESSAGES SIZE HOLD_MS
//                                              connects, sends MESSAGES writes of SIZE bytes (each
//                                              waits for its echo), waits HOLD_MS, closes, reports
//   NAME udp-burst HOST PORT COUNT SIZE        short-lived: sends COUNT datagrams from a new socket and
//                                              exits at once after the last one (reports first, on stderr
//                                              nothing: the test knows its PID)
//   NAME tcp-burst HOST PORT SIZE              short-lived: connects, sends SIZE bytes, closes and exits
//                                              as soon as the connection is closed (no linger)
//   NAME udp-burst-thread HOST PORT COUNT SIZE as udp-burst, but the socket is a worker thread's (its own
//                                              tid and comm): the process is named, not the thread
import dgram from 'node:dgram';
import net from 'node:net';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

if (!isMainThread) {
  // udp-burst-thread's sender: COUNT datagrams from a socket of this thread, then tells the main thread.
  const { family, host, port, count, size } = workerData;
  const s = dgram.createSocket(family);
  let left = count;
  s.bind(0, () => {
    for (let i = 0; i < count; i++) {
      s.send(Buffer.alloc(size, 0x65), port, host, (err) => {
        if (err) throw err;
        if (--left === 0) parentPort.postMessage('sent');
      });
    }
  });
} else main();

function main() {
  const [name, mode, host, ...rest] = process.argv.slice(2);
  process.title = name; // the main thread's comm: what /proc/<pid>/status shows as Name
  const say = (o) => process.stdout.write(JSON.stringify({ pid: process.pid, ...o }) + '\n');
  const family = host.includes(':') ? 'udp6' : 'udp4';
  const keep = [];
  process.stdin.resume();
  process.stdin.on('end', () => {
    for (const k of keep) k.close?.() ?? k.destroy?.();
    process.exit(0);
  });

  if (mode === 'udp-recv') {
    const s = dgram.createSocket(family);
    keep.push(s);
    let got = 0;
    s.on('message', () => got++);
    s.bind(0, host, () => say({ ready: true, port: s.address().port }));
    setInterval(() => say({ received: got }), 200).unref();
  } else if (mode === 'udp-send') {
    const [port, count, size] = rest.map(Number);
    const s = dgram.createSocket(family);
    keep.push(s);
    const payload = Buffer.alloc(size, 0x61);
    s.bind(0, () => {
      let sent = 0;
      const next = () => {
        if (sent === count) return say({ done: true, sent, port: s.address().port });
        sent++;
        s.send(payload, port, host, (err) => {
          if (err) throw err;
          setTimeout(next, 0); // paced: the receiver's buffer never overflows
        });
      };
      next();
    });
  } else if (mode === 'tcp-server') {
    const server = net.createServer((c) => {
      c.setNoDelay(true);
      c.on('data', (d) => c.write(d));
      c.on('end', () => c.end());
      c.on('error', () => {});
    });
    keep.push(server);
    server.listen(0, host, () => say({ ready: true, port: server.address().port }));
  } else if (mode === 'tcp-client') {
    const [port, messages, size, holdMs] = rest.map(Number);
    const c = net.connect({ host, port }, () => {
      c.setNoDelay(true);
      const localPort = c.localPort;
      let sent = 0;
      let echoed = 0;
      const send = () => {
        sent++;
        c.write(Buffer.alloc(size, 0x62));
      };
      c.on('data', (d) => {
        echoed += d.length;
        if (echoed >= sent * size) {
          if (sent < messages) send();
          else setTimeout(() => c.end(), holdMs);
        }
      });
      c.on('close', () => say({ done: true, localPort }));
      if (messages > 0) send();
      else setTimeout(() => c.end(), holdMs);
    });
    c.on('error', (e) => say({ error: e.message }));
  } else if (mode === 'udp-burst') {
    const [port, count, size] = rest.map(Number);
    const s = dgram.createSocket(family);
    const payload = Buffer.alloc(size, 0x63);
    let left = count;
    s.bind(0, () => {
      say({ done: true, port: s.address().port });
      for (let i = 0; i < count; i++) {
        s.send(payload, port, host, (err) => {
          if (err) throw err;
          if (--left === 0) process.exit(0);
        });
      }
    });
  } else if (mode === 'tcp-burst') {
    const [port, size] = rest.map(Number);
    const c = net.connect({ host, port }, () => {
      say({ done: true, localPort: c.localPort });
      c.end(Buffer.alloc(size, 0x64));
    });
    c.on('data', () => {});
    c.on('close', () => process.exit(0));
    c.on('error', () => process.exit(0));
  } else if (mode === 'udp-burst-thread') {
    const [port, count, size] = rest.map(Number);
    say({ started: true });
    const w = new Worker(new URL(import.meta.url), { workerData: { family, host, port, count, size } });
    w.once('message', () => process.exit(0));
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
}
