// A throwaway test host: a network namespace joined to this one by a veth pair,
// IPv4 10.200.N.0/24 and IPv6 fd00:200:N::/64 assigned only to these two ends.
// Call remove() in an after hook.
//

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ip = async (...args: string[]) => (await run('ip', args, { timeout: 10_000 })).stdout;

export interface TestHost {
  readonly ns: string;
  readonly hostIf: string;
  readonly nsIf: string;
  readonly hostV4: string;
  readonly nsV4: string;
  readonly hostV6: string;
  readonly nsV6: string;
  remove(): Promise<void>;
}

export async function createTestHost(n: number): Promise<TestHost> {
  if (!Number.isInteger(n) || n < 1 || n > 250) throw new Error(`createTestHost: n must be 1..250, not ${n}`);
  const tag = `${n}p${process.pid % 100000}`;
  const ns = `np-t${tag}`;
  const hostIf = `nph${tag}`.slice(0, 15);
  const nsIf = `npn${tag}`.slice(0, 15);
  const host: TestHost = {
    ns,
    hostIf,
    nsIf,
    hostV4: `10.200.${n}.1`,
    nsV4: `10.200.${n}.2`,
    hostV6: `fd00:200:${n.toString(16)}::1`,
    nsV6: `fd00:200:${n.toString(16)}::2`,
    remove: async () => {
      await ip('link', 'del', hostIf).catch(() => {});
      await ip('netns', 'del', ns).catch(() => {});
    },
  };
  await host.remove();
  try {
    await ip('netns', 'add', ns);
    await ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
    await ip('link', 'set', nsIf, 'netns', ns);
    await ip('addr', 'add', `${host.hostV4}/24`, 'dev', hostIf);
    await ip('-6', 'addr', 'add', `${host.hostV6}/64`, 'dev', hostIf, 'nodad');
    await ip('link', 'set', hostIf, 'up');
    await ip('-n', ns, 'addr', 'add', `${host.nsV4}/24`, 'dev', nsIf);
    await ip('-n', ns, '-6', 'addr', 'add', `${host.nsV6}/64`, 'dev', nsIf, 'nodad');
    await ip('-n', ns, 'link', 'set', nsIf, 'up');
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
  } catch (e) {
    await host.remove();
    throw e;
  }
  return host;
}
