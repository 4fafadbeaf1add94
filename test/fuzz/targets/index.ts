// Every fuzz target, by name, in the order the report lists them. The full run
// (`npm run fuzz`) and the fast seeded test (test/unit/fuzz.test.ts) both take
// them from here. Targets hold state across inputs (nettop's memo), so each
// call makes fresh ones.

import type { Target } from '../engine.ts';
import { LINKS } from '../gen-frames.ts';
import { frameTarget, unknownLinkTarget } from './frames.ts';
import { collectorMessageTarget, commandTarget, framingTarget, requestTarget } from './ipc.ts';
import { nettopTarget } from './nettop.ts';
import { pcapngTarget } from './pcapng.ts';
import { captureFileTarget } from './capture-file.ts';
import { formatTarget, pageTarget } from './tracefs.ts';

export interface TargetOptions {
  /** pcapng: names and comments over 65,535 bytes too (the full run). */
  oversize: boolean;
}

export function allTargets(o: TargetOptions = { oversize: false }): Target<unknown>[] {
  return [
    ...LINKS.map((l) => frameTarget(l)),
    unknownLinkTarget(),
    nettopTarget(),
    pageTarget(),
    formatTarget(),
    pcapngTarget({ oversize: o.oversize }),
    captureFileTarget(),
    framingTarget(),
    commandTarget(),
    collectorMessageTarget(),
    requestTarget(),
  ] as Target<unknown>[];
}

export const targetNames = (): string[] => allTargets().map((t) => t.name);
