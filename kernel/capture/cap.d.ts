// Types for `cap` 0.2.1 as patched by patches/cap+0.2.1.patch.
declare module 'cap' {
  import type { EventEmitter } from 'node:events';

  export interface OpenOptions {
    snaplen?: number;
    immediate?: boolean;
    /** Read timeout in ms: how long libpcap may hold packets before handing over a block. */
    timeout?: number;
    promisc?: boolean;
    direction?: 'in' | 'out' | 'inout';
    /** Deliver 'packets' (nbytes, count) events of records packed in the buffer. */
    batch?: boolean;
    /** pcap_set_datalink() after activation, e.g. 276 (LINUX_SLL2) on "any". */
    datalink?: number;
    /** Open with the empty filter, every packet rejected in the kernel and no polling, until setFilter() and resume(). */
    paused?: boolean;
  }

  export interface PcapStats {
    received: number;
    dropped: number;
    ifdropped: number;
  }

  export class Cap extends EventEmitter {
    open(device: string, filter: string, bufSize: number, buffer: Buffer, options?: OpenOptions): string;
    close(): boolean;
    stats(): PcapStats;
    linkType(): number;
    /** On a paused capture: compiles and installs the filter on a libuv pool thread. */
    setFilter(filter: string, callback: (err: Error | null) => void): void;
    /** Starts delivering packets of a capture opened paused. */
    resume(): void;
    on(event: 'packets', listener: (nbytes: number, count: number) => void): this;
    on(event: 'packet', listener: (nbytes: number, truncated: boolean) => void): this;
    static deviceList(): { name: string; description?: string; addresses: { addr?: string }[]; flags?: string }[];
  }

  /** Compiles a filter on a dead handle of that link type (no capture, no privilege): libpcap's error text, or null. Blocks. */
  export function checkFilter(filter: string, linkType: number, snaplen: number, device: string): string | null;
}
