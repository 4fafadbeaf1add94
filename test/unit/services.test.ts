// Service names for well-known ports, against the system's own /etc/services (Debian's netbase, IANA's names): a
// name we show for a port must be one the system gives that port (its name or an alias), where the system names it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { serviceName } from '../../core/services.ts';

test('each port we name is named the same by /etc/services, where it names the port at all', (t) => {
  if (!existsSync('/etc/services')) return t.skip('no /etc/services on this machine');
  const system = new Map<number, Set<string>>();
  for (const line of readFileSync('/etc/services', 'utf8').split('\n')) {
    const [name, portProto, ...aliases] = line.replace(/#.*/, '').trim().split(/\s+/);
    const port = Number(portProto?.split('/')[0]);
    if (!name || !Number.isInteger(port)) continue;
    const names = system.get(port) ?? new Set<string>();
    for (const n of [name, ...aliases]) names.add(n);
    system.set(port, names);
  }
  let compared = 0;
  for (let port = 1; port < 65536; port++) {
    const ours = serviceName(port);
    const theirs = system.get(port);
    if (!ours || !theirs) continue;
    compared++;
    assert.ok(theirs.has(ours), `port ${port}: we say ${ours}, /etc/services says ${[...theirs].join(' or ')}`);
  }
  assert.ok(compared >= 40, `compared ${compared} ports`);
  assert.equal(serviceName(47_123), undefined, 'an unlisted port has no name');
});
