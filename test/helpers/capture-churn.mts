// Opens and closes many captures (400) and lets the garbage collector free them, with
// an async_hooks destroy hook on (as under node:test): the patched binding must
// survive it. Run with --expose-gc; exits 0 and prints "ok" when it does.
import { createHook } from 'node:async_hooks';
import { PcapCapture } from '../../kernel/capture/pcap.node.ts';

createHook({ destroy() {} }).enable();
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
let garbage: unknown[] = [];
for (let i = 0; i < 400; i++) {
  const c = new PcapCapture({ device: 'lo', filter: 'udp port 9', direction: 'in' }, () => {});
  await new Promise((r) => setTimeout(r, 1));
  c.close();
  // Young-generation pressure, so collections (and the bindings' weak callbacks) also happen inside allocations.
  for (let k = 0; k < 2000; k++) garbage.push({ k, s: `row ${k}` });
  if (garbage.length > 100_000) garbage = [];
  if (i % 10 === 9) {
    await new Promise((r) => setTimeout(r, 5));
    gc();
  }
}
await new Promise((r) => setTimeout(r, 20));
gc();
console.log('ok');
