// A throwaway test host: a network namespace joined to this one by a veth pair,
// with addresses from a 10.x subnet assigned only to these two ends. Removed by
// remove() (call it in an after hook); the names carry our pid.

import { execFileSync } from 'node:child_process';

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe', timeout: 10_000 }).toString();

export interface TestHost {
  readonly ns: string;
  /** The address of our end, and of the namespace's end. */
  readonly here: string;
  readonly there: string;
  remove(): void;
}

export function makeTestHost(tag: string): TestHost {
  const id = `${tag}${process.pid % 100000}`.slice(0, 11);
  const ns = `np-${id}`;
  const a = `npa${id}`.slice(0, 15);
  const b = `npb${id}`.slice(0, 15);
  const net = `10.${200 + (process.pid % 50)}.${(process.pid >> 6) % 250}`;
  const remove = () => {
    try {
      ip('link', 'del', a);
    } catch {
      /* gone with the namespace */
    }
    try {
      ip('netns', 'del', ns);
    } catch {
      /* never made */
    }
  };
  remove();
  try {
    ip('netns', 'add', ns);
    ip('link', 'add', a, 'type', 'veth', 'peer', 'name', b);
    ip('link', 'set', b, 'netns', ns);
    ip('addr', 'add', `${net}.1/24`, 'dev', a);
    ip('link', 'set', a, 'up');
    ip('-n', ns, 'addr', 'add', `${net}.2/24`, 'dev', b);
    ip('-n', ns, 'link', 'set', b, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  } catch (e) {
    remove();
    throw e;
  }
  return { ns, here: `${net}.1`, there: `${net}.2`, remove };
}
