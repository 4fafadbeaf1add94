// The words every part of nettop's attribution shares: a flow seen at one local
// endpoint (the tuple a socket lookup asks about) and the direction of a packet
// there. One type, so no function takes five loose endpoint parameters. Pure.

import type { L4Proto } from '../core/procfs/proc-net.ts';

export const XMIT = 0;
export const RECV = 1;
export type Direction = typeof XMIT | typeof RECV;

/** A packet's endpoints as its local socket sees them; addresses as packet.ts prints them. */
export interface FlowTuple {
  proto: L4Proto;
  localIp: string;
  localPort: number;
  remoteIp: string;
  remotePort: number;
}

export function flowTuple(proto: L4Proto, localIp: string, localPort: number, remoteIp: string, remotePort: number): FlowTuple {
  return { proto, localIp, localPort, remoteIp, remotePort };
}

/** A copy: callers on the hot path reuse one tuple object, what is kept must not change under it. */
export function copyFlow(flow: FlowTuple): FlowTuple {
  return { proto: flow.proto, localIp: flow.localIp, localPort: flow.localPort, remoteIp: flow.remoteIp, remotePort: flow.remotePort };
}

/** The flow cache's and the hold queue's key: direction, protocol, local and remote endpoint. */
export function flowKey(dir: Direction, flow: FlowTuple): string {
  return `${dir}${flow.proto}${flow.localIp}|${flow.localPort}|${flow.remoteIp}|${flow.remotePort}`;
}
