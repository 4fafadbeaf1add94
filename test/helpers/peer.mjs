// A traffic peer with a known behaviour, run as its own process (also inside a
// test namespace through `ip netns exec`). Prints "ready" once listening.
//   udp-send HOST PORT COUNT SIZE [MS]   sends COUNT datagrams of SIZE bytes (then keeps the socket MS ms)
//   udp-recv HOST PORT COUNT [MS]        receives COUNT datagrams, then exits (after keeping the socket MS ms)
//   tcp-server HOST PORT [N]             accepts N connections (default 1), echoes, closes each on EOF, exits after the Nth
//   tcp-client HOST PORT MESSAGES SIZE   connects, sends MESSAGES writes of SIZE bytes (waiting for each echo), closes
//   udp-echo HOST PORT COUNT             answers COUNT datagrams (each to its sender), then exits
//   udp-ping HOST PORT COUNT SIZE [MS]   after MS ms, sends COUNT datagrams of SIZE bytes, each after the answer to the last
import dgram from 'node:dgram';
import net from 'node:net';

const [mode, host, portText, a, b, c] = process.argv.slice(2);
const port = Number(portText);
const family = host.includes(':') ? 'udp6' : 'udp4';

if (mode === 'udp-send') {
  const s = dgram.createSocket(family);
  const count = Number(a);
  const payload = Buffer.alloc(Number(b), 0x61);
  let sent = 0;
  const next = () => {
    if (sent === count) return setTimeout(() => s.close(), Number(c ?? 0));
    sent++;
    s.send(payload, port, host, (err) => {
      if (err) throw err;
      setImmediate(next);
    });
  };
  next();
} else if (mode === 'udp-recv') {
  const s = dgram.createSocket(family);
  let got = 0;
  s.on('message', () => {
    if (++got === Number(a)) setTimeout(() => s.close(), Number(b ?? 0));
  });
  s.bind(port, host, () => console.log('ready'));
} else if (mode === 'tcp-server') {
  let left = Number(a ?? 1);
  const server = net.createServer((c) => {
    c.on('data', (d) => c.write(d));
    c.on('end', () => {
      c.end();
      if (--left === 0) server.close();
    });
  });
  server.listen(port, host, () => console.log('ready'));
} else if (mode === 'tcp-client') {
  const c = net.createConnection(port, host);
  const messages = Number(a);
  const size = Number(b);
  let done = 0;
  let pending = 0;
  c.setNoDelay(true);
  c.on('connect', () => {
    pending = size;
    c.write(Buffer.alloc(size, 0x62));
  });
  c.on('data', (d) => {
    pending -= d.length;
    if (pending > 0) return;
    if (++done === messages) return c.end();
    pending = size;
    c.write(Buffer.alloc(size, 0x62));
  });
} else if (mode === 'udp-echo') {
  const s = dgram.createSocket(family);
  let got = 0;
  s.on('message', (d, from) => {
    s.send(d, from.port, from.address, () => {
      if (++got === Number(a)) s.close();
    });
  });
  s.bind(port, host, () => console.log('ready'));
} else if (mode === 'udp-ping') {
  const s = dgram.createSocket(family);
  const count = Number(a);
  const payload = Buffer.alloc(Number(b), 0x63);
  let answered = 0;
  s.on('message', () => {
    if (++answered === count) s.close();
    else s.send(payload, port, host);
  });
  setTimeout(() => s.send(payload, port, host), Number(c ?? 0));
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
