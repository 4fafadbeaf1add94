// The fuzz harness (test/fuzz/, `npm run fuzz`), fast and seeded: every target
// with a fixed seed and a few thousand inputs (a few seconds in all; no
// coverage guidance, no tshark), so that a decoder change that breaks an
// invariant on those inputs fails `npm test`. Then the harness itself: bugs
// planted in wrappers around the real decoders — a read past the captured
// length, an off-by-one in a bounds check, a stray exception, a wrong type let
// through, a chunk's offset ignored — must each be caught. Last, the findings
// of the full run that are not fixed yet, reproduced directly, as TODO tests.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { walkPage } from '../../core/tracefs/page.ts';
import { requestSchema } from '../../ipc/api.ts';
import { FrameDecoder } from '../../core/framing.ts';
import { decodeFrame } from '../../core/packet.ts';
import { writePcapng } from '../../core/pcapng.ts';
import { parseCommand } from '../../ipc/protocol.ts';
import { runTarget, type Finding, type Target, type TargetResult } from '../fuzz/engine.ts';
import { LINKS } from '../fuzz/gen-frames.ts';
import { frameTarget } from '../fuzz/targets/frames.ts';
import { allTargets } from '../fuzz/targets/index.ts';
import { commandTarget, framingTarget } from '../fuzz/targets/ipc.ts';
import { checkPcapng, pcapngTarget } from '../fuzz/targets/pcapng.ts';
import { pageTarget } from '../fuzz/targets/tracefs.ts';

const SEED = 'npm-test';

/** Inputs per target: the cheap ones get more. */
const INPUTS: Record<string, number> = {
  'tracefs:format': 3000,
  'tracefs:walkPage': 5000,
  'pcapng:writer': 2000,
  'ipc:FrameDecoder': 2000,
};
const inputs = (name: string) => INPUTS[name] ?? (name.startsWith('frame:') ? 4000 : 5000);

/**
 * Findings of the full run not fixed yet (see test/fuzz/REPORT.md), matched by kind: reported as TODO tests
 * below, not failures here. Remove an entry when its fix lands.
 */
const KNOWN: { target: string; kind: RegExp }[] = [];

const show = (f: Finding) => `${f.error}\n${f.stack}\ninput #${f.iteration}: ${f.input.slice(0, 2000)}`;

describe('fuzz, seeded (npm run fuzz does 10^6 inputs per target)', () => {
  for (const target of allTargets()) {
    test(`${target.name}: ${inputs(target.name).toLocaleString('en')} inputs`, () => {
      const r = runTarget(target, { seed: SEED, iterations: inputs(target.name), explore: 0 });
      const found = r.findings.filter((f) => !KNOWN.some((k) => k.target === target.name && k.kind.test(f.kind)));
      assert.deepEqual(found.map(show), [], `${target.name} with seed ${SEED}: repeat with npm run fuzz -- --seed ${SEED} --iterations ${inputs(target.name)} --explore 0 --only ${target.name}`);
      assert.equal(r.inputs, inputs(target.name));
    });
  }
});

/** Runs a target with a planted bug; returns what it found. */
function plant<I>(target: Target<I>, n = 3000): TargetResult {
  return runTarget(target, { seed: SEED, iterations: n, explore: 0 });
}
const kinds = (r: TargetResult) => r.findings.map((f) => f.error).join('\n');
const EN10MB = LINKS.find((l) => l.name === 'EN10MB')!;

describe('the harness catches planted bugs', () => {
  test('a frame decoder that reads past the captured length (it decodes up to the end of the buffer)', () => {
    const r = plant(frameTarget(EN10MB, (lt, buf, off, _caplen, wire) => decodeFrame(lt, buf, off, buf.length - off, wire), ' (planted)'));
    assert.match(kinds(r), /bytes of 0x(00|ff) after the captured bytes|at offset \d+ in a larger buffer/);
  });

  test('an off-by-one in a bounds check: one byte past caplen read, its value used', () => {
    const r = plant(
      frameTarget(
        EN10MB,
        (lt, buf, off, caplen, wire) => {
          const d = decodeFrame(lt, buf, off, caplen, wire);
          return typeof d === 'object' && buf[off + caplen] === 0xff ? 'malformed' : d;
        },
        ' (planted)',
      ),
    );
    assert.match(kinds(r), /with \d+ bytes of 0xff after the captured bytes/);
  });

  test('the guarded view alone catches a read past caplen whose value changes nothing', () => {
    const r = plant(
      frameTarget(
        EN10MB,
        (lt, buf, off, caplen, wire) => {
          void buf[off + caplen];
          return decodeFrame(lt, buf, off, caplen, wire);
        },
        ' (planted)',
      ),
    );
    assert.match(kinds(r), /through a guarded view|outside the captured bytes/);
  });

  test('a frame decoder that throws on some frames', () => {
    const r = plant(
      frameTarget(
        EN10MB,
        (lt, buf, off, caplen, wire) => {
          if (caplen > 14 && buf[off + 14] === 0x46) throw new TypeError('Cannot read properties of undefined');
          return decodeFrame(lt, buf, off, caplen, wire);
        },
        ' (planted)',
      ),
    );
    assert.match(kinds(r), /^TypeError: Cannot read properties of undefined/m);
  });

  test('walkPage reading past the bytes read (n)', () => {
    const r = plant(pageTarget((buf, start, _n, layout, onEvent) => walkPage(buf, start, buf.length - start, layout, onEvent)));
    assert.match(kinds(r), /with bytes beyond n|at pageStart|outside the data/);
  });

  test("a FrameDecoder that ignores a chunk's offset in its buffer", () => {
    const r = plant(
      framingTarget((max) => {
        const d = new FrameDecoder(max);
        return { push: (c: Uint8Array) => d.push(new Uint8Array(c.buffer, 0, c.length)) };
      }),
      500,
    );
    assert.match(kinds(r), /in \d+ chunks/);
  });

  test('a FrameDecoder that throws something other than FrameError', () => {
    const r = plant(
      framingTarget((max) => {
        const d = new FrameDecoder(max);
        return {
          push: (c: Uint8Array) => {
            try {
              return d.push(c);
            } catch (e) {
              throw new SyntaxError(String(e));
            }
          },
        };
      }),
      500,
    );
    assert.match(kinds(r), /not a FrameError/);
  });

  test('a schema that lets a wrong value through, and one that throws a TypeError', () => {
    const wrong = plant(
      commandTarget((v) => {
        const c = parseCommand(v);
        return c.type === 'query' ? { ...c, id: -1 } : c;
      }),
    );
    assert.match(kinds(wrong), /\.id: not an integer in 0\.\./);
    const throws = plant(
      commandTarget((v) => {
        if (typeof v === 'object' && v !== null && 'options' in v && Array.isArray(v.options)) throw new TypeError('options.map is not a function');
        return parseCommand(v);
      }),
    );
    assert.match(kinds(throws), /not a SchemaError/);
  });

  test('a pcapng writer that leaves garbage in a padding byte', () => {
    const r = plant(
      pcapngTarget({ oversize: false }, (ifaces, packets, app) => {
        const b = writePcapng(ifaces, packets, app);
        const i = packets.findIndex((p) => p.data.length % 4 !== 0);
        if (i < 0) return b;
        const out = b.slice();
        // The first packet block with padding: find it by walking the blocks.
        let o = 0;
        let k = -1 - ifaces.length;
        const dv = new DataView(out.buffer);
        while (k < i) {
          o += dv.getUint32(o + 4, true);
          k++;
        }
        out[o + 28 + packets[i]!.data.length] = 0xee;
        return out;
      }),
      500,
    );
    assert.match(kinds(r), /data padding not zero/);
  });
});

describe('findings of the full run, fixed: each reproduced', () => {
  test(
    'requestSchema: an array with holes (which Electron structured clone delivers) is refused, not returned with its holes',
    () => {
      const ips: string[] = [];
      ips[1] = '127.0.0.1'; // ips[0] a hole
      const sparse = structuredClone({ type: 'resolveNames', ips });
      assert.throws(() => requestSchema.parse(sparse, 'request'));
    },
  );

  test('writePcapng: a comment over 65,535 bytes is refused, not written with a wrapped option length', () => {
    const cap = { interfaces: [{ name: 'lo', linkType: 1, snaplen: 256 }], packets: [{ iface: 0, time: 0, wireLen: 1, data: Uint8Array.of(1), comment: 'x'.repeat(70000) }] };
    assert.throws(() => writePcapng(cap.interfaces, cap.packets), /at most 65535 bytes/);
    const fits = { ...cap, packets: [{ ...cap.packets[0]!, comment: 'x'.repeat(65535) }] };
    assert.doesNotThrow(() => checkPcapng(writePcapng(fits.interfaces, fits.packets), fits));
  });
});
