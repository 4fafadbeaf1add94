// The fuzz report, in Markdown: what ran (seed, commit, whether the decoders
// had uncommitted changes), a table of counts and times per target, then
// every finding with its input, the notes, the outcome mix, the tshark round
// trips, and the command that repeats the run.

import type { TargetResult } from './engine.ts';
import type { TsharkResult } from './tshark.ts';

export interface RunInfo {
  seed: string;
  command: string;
  /** Arguments that make --dump N print input N of this run (seed, and --explore when not the default). */
  replay: string;
  date: string;
  commit: string;
  dirty: string[];
  node: string;
  cpus: number;
  jobs: number;
  iterations: number;
  explore: number;
  ms: number;
  hangs: { target: string; iteration: number; seconds: number }[];
}

const n = (x: number) => x.toLocaleString('en');
const secs = (ms: number) => (ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`);
const pct = (a: number, b: number) => (b ? `${((100 * a) / b).toFixed(1)} %` : '–');
const fence = (s: string) => '```\n' + s.replace(/```/g, '` ``') + '\n```';

export function renderReport(info: RunInfo, results: TargetResult[], tshark: TsharkResult | null): string {
  const out: string[] = [];
  const findings = results.reduce((s, r) => s + r.findings.reduce((t, f) => t + f.count, 0), 0) + (tshark?.failures.length ?? 0) + info.hangs.length;
  const kinds = results.reduce((s, r) => s + r.findings.length, 0) + (tshark?.failures.length ? 1 : 0) + info.hangs.length;
  const inputs = results.reduce((s, r) => s + r.inputs, 0);
  out.push('# Fuzz report', '');
  out.push(`Written by \`npm run fuzz\` (test/fuzz/README.md). Repeat this run with \`${info.command}\`.`, '');
  out.push(`- seed **${info.seed}**, ${info.date}`);
  out.push(`- code: commit ${info.commit}${info.dirty.length ? `, with uncommitted changes in ${info.dirty.map((f) => `\`${f}\``).join(', ')}` : ''}`);
  out.push(`- ${info.node}, ${info.cpus} CPUs, ${info.jobs} target${info.jobs === 1 ? '' : 's'} at a time; ${n(info.iterations)} inputs per target, the first ${n(info.explore)} guided by V8 block coverage`);
  out.push(`- **${n(inputs)} inputs** in ${results.length} targets${tshark && !tshark.skipped ? `, and ${n(tshark.packets)} packets in ${n(tshark.files)} pcapng files through tshark` : ''}; ${secs(info.ms)} in all`);
  out.push(`- **${findings ? `${n(kinds)} kind${kinds === 1 ? '' : 's'} of finding, ${n(findings)} input${findings === 1 ? '' : 's'}` : 'no findings'}**: ${findings ? 'see below' : 'no exception other than the modules\u2019 own errors, no invariant broken'}`, '');

  out.push('| Target | Inputs | Time | Inputs/s | Blocks reached¹ | Corpus | Findings | Notes | Slowest input |');
  out.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const r of results) {
    const cov = r.coverage ? `${r.coverage.reached}/${r.coverage.blocks} (${pct(r.coverage.reached, r.coverage.blocks)})` : '–';
    const f = r.findings.reduce((s, x) => s + x.count, 0);
    const notes = r.notes.reduce((s, x) => s + x.count, 0);
    out.push(`| \`${r.name}\` | ${n(r.inputs)} | ${secs(r.ms)} | ${n(Math.round(r.inputs / (r.ms / 1000)))} | ${cov} | ${n(r.corpus)} | ${f ? `**${n(f)}**` : 0} | ${n(notes)} | ${r.slowest ? `${r.slowest.ms.toFixed(1)} ms` : '–'} |`);
  }
  if (tshark) {
    out.push(
      tshark.skipped
        ? `| \`pcapng:tshark\` | skipped: ${tshark.skipped} | | | | | | | |`
        : `| \`pcapng:tshark\` | ${n(tshark.packets)} packets in ${n(tshark.files)} files | ${secs(tshark.ms)} | ${n(Math.round(tshark.packets / (tshark.ms / 1000)))} | – | – | ${tshark.failures.length ? `**${tshark.failures.length}**` : 0} | – | – |`,
    );
  }
  out.push('');
  out.push(
    '¹ In the coverage-guided phase: blocks (V8 block coverage ranges) of the target\u2019s modules reached, of those in the functions that ran. ' +
      'A link type runs only its own branches of decodeFrame, hence the lower counts for IPV4 and IPV6.',
    '',
  );
  for (const r of results) out.push(`- \`${r.name}\`: ${r.what}${r.extra.length ? `; ${r.extra.join('; ')}` : ''}${r.slow ? `; ${n(r.slow)} input${r.slow === 1 ? '' : 's'} over 100 ms` : ''}`);
  if (tshark && !tshark.skipped) out.push(`- \`pcapng:tshark\`: writePcapng, read back by \`tshark -r FILE\` (${(tshark.version ?? '').replace(/\.$/, '')}): packet count, interface and its name, timestamp to the µs, wire and captured lengths and comment (\`-T fields\`), every byte (the packet blocks of what it writes back with \`-w\`)`);
  out.push('');

  out.push('## Findings', '');
  if (!findings) out.push('None.', '');
  for (const h of info.hangs) {
    out.push(`### \`${h.target}\`: no progress for ${h.seconds} s`, '');
    out.push(`Stopped while running input ${n(h.iteration)}. Print it with \`npm run fuzz -- ${info.replay} --only ${h.target} --dump ${h.iteration}\`.`, '');
  }
  for (const r of results) {
    for (const f of r.findings) {
      out.push(`### \`${r.name}\`: ${f.error.split('\n')[0]!.slice(0, 160)}`, '');
      out.push(`${n(f.count)} input${f.count === 1 ? '' : 's'}, first at input ${n(f.iteration)} (\`npm run fuzz -- ${info.replay} --only ${r.name} --dump ${f.iteration}\` prints it).`, '');
      out.push(fence(`${f.error}\n${f.stack}`), '', 'Input:', '', fence(f.input), '');
    }
  }
  for (const t of tshark?.failures ?? []) out.push(`### \`pcapng:tshark\`: ${t.file}`, '', fence(t.error), '');

  const slow = results.filter((r) => r.slowest && r.slowest.ms > 100);
  if (slow.length) {
    out.push('## Slow inputs', '');
    out.push('The slowest input of each target that had one over 100 ms (a large input, a pause for garbage collection, or work that grows faster than the input).', '');
    for (const r of slow) {
      out.push(`- \`${r.name}\`: ${n(r.slow)} input${r.slow === 1 ? '' : 's'} over 100 ms; the slowest, input ${n(r.slowest!.iteration)}, took ${r.slowest!.ms.toFixed(0)} ms:`);
      const s = r.slowest!.input;
      out.push(`  ${fence(s.length > 1200 ? `${s.slice(0, 600)} … ${s.slice(-600)}` : s).split('\n').join('\n  ')}`);
    }
    out.push('');
  }

  const noted = results.filter((r) => r.notes.length);
  out.push('## Notes', '');
  out.push('Not invariants: behaviour worth a look, counted.', '');
  if (!noted.length) out.push('None.', '');
  for (const r of noted) {
    for (const x of r.notes) {
      out.push(`- \`${r.name}\`, ${n(x.count)} input${x.count === 1 ? '' : 's'}: ${x.kind}. First at input ${n(x.iteration)}: ${x.detail}`);
      out.push(`  ${fence(x.input).split('\n').join('\n  ')}`);
    }
  }
  out.push('');

  out.push('## Outcomes', '');
  out.push('What the inputs came to, per target: how deep they got.', '');
  for (const r of results) {
    const o = Object.entries(r.outcomes)
      .map(([k, v]) => `${k} ${pct(v, r.inputs)}`)
      .join(', ');
    out.push(`- \`${r.name}\`: ${o}`);
  }
  out.push('');
  return out.join('\n');
}
