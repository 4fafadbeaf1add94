// A host as Electron main is one, without Electron: run (as an unprivileged
// test user, by test/integration/elevation.test.ts and lifetime.test.ts) it
// opens a Session whose collector is started through the real elevated
// launcher (sudo-prompt → pkexec) — or, as root, directly — starts the tcpdump
// probe on lo, and reports on stdout, one JSON object a line:
//   {"started":{"ms","pid","elevated"}} | {"capturing":true} | {"failed":{"ms","message"}} | {"rows":N} | {"closed":true}
// It closes its session when stdin says "close" (or ends), then exits.
//
//   polkit-host.ts COLLECTOR PORT [plain|wrong-owner|foreign-socket|appimage APPIMAGE APPDIR]

import { createInterface } from 'node:readline';
import { elevatedLauncher } from '../../host/elevation.node.ts';
import type { Launcher } from '../../host/collector-link.node.ts';
import { Session } from '../../host/session.node.ts';

const [collector, portArg, mode = 'plain', appImage, appDir] = process.argv.slice(2);
// appimage: as if run from an AppImage ($APPIMAGE, $APPDIR); the test makes a stand-in of one.
const real = elevatedLauncher(mode === 'appimage' ? { env: { APPIMAGE: appImage, APPDIR: appDir } } : {});
/** Deliberately wrong plans, to see the root collector refuse them. */
const launcher: Launcher =
  mode === 'wrong-owner'
    ? (plan, log) => real({ ...plan, ownerUid: plan.ownerUid + 1 }, log)
    : mode === 'foreign-socket'
      ? (plan, log) => real({ ...plan, socket: '/run/dbus/system_bus_socket' }, log)
      : real;

const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
const session = new Session({ collectorScript: collector!, frontEnd: 'electron', elevatedLauncher: launcher, saveFile: null });
let rows = 0;
let capturing = false;
session.subscribe((e) => {
  if (e.type === 'rows') say({ rows: (rows += e.rows.length) });
  // The probe's capture is open once the collector says it started (its source is named).
  if (e.type === 'state' && !capturing && e.state.probes.tcpdump.source) say({ capturing: (capturing = true) });
  if (e.type === 'state' && e.state.collector.status === 'crashed') say({ crashed: e.state.collector.problem });
});

const close = () => {
  session.shutdown();
  say({ closed: true });
  setTimeout(() => process.exit(0), 100);
};
createInterface({ input: process.stdin }).on('line', (l) => l.trim() === 'close' && close()).on('close', close);

const t0 = Date.now();
session
  .handle({ type: 'start', probe: 'tcpdump', options: { ifaces: ['lo'], filter: `udp port ${portArg}`, bothDirections: false } })
  .then(
    () => say({ started: { ms: Date.now() - t0, pid: session.state.collector.pid, elevated: session.state.collector.elevated, elevation: session.state.elevation } }),
    (e: Error) => say({ failed: { ms: Date.now() - t0, message: e.message, problem: session.state.collector.problem } }),
  );
