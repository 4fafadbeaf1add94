// Throwaway cgroup v2 directories for tests: made under the cgroup2 mount
// (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host), processes
// moved in by PID, and on remove() moved back to the root and the directories
// deleted. Names start with np17- so a leftover is recognisable.

import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The cgroup2 mount point, from /proc/self/mountinfo; null without one. */
export function cgroup2Root(): string | null {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (right?.startsWith('cgroup2 ')) return left!.split(' ')[4]!;
  }
  return null;
}

export interface TestCgroups {
  /** Makes `rel` (e.g. "np17-x.slice/docker-<id>.scope") and its parents; returns its path as /proc/PID/cgroup shows it. */
  make(rel: string): string;
  moveInto(rel: string, pid: number): void;
  remove(): void;
}

export function testCgroups(): TestCgroups {
  const root = cgroup2Root();
  if (!root) throw new Error('no cgroup2 mount');
  const made: string[] = [];
  return {
    make(rel) {
      let dir = root;
      for (const part of rel.split('/')) {
        if (!part.startsWith('np17-') && !/^(docker|libpod|app)-/.test(part)) throw new Error(`test cgroup ${part}: not a test name`);
        dir = path.join(dir, part);
        try {
          mkdirSync(dir);
          made.push(dir);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
      }
      return `/${rel}`;
    },
    moveInto(rel, pid) {
      writeFileSync(path.join(root, rel, 'cgroup.procs'), `${pid}\n`);
    },
    remove() {
      for (const dir of made.splice(0).reverse()) {
        for (const pid of readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
          try {
            writeFileSync(path.join(root, 'cgroup.procs'), `${pid}\n`);
          } catch {
            // exited meanwhile
          }
        }
        try {
          rmdirSync(dir);
        } catch {
          // still busy (a process exiting): the next run's make() reuses it
        }
      }
    },
  };
}
