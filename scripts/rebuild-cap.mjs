// Builds the `cap` binding after patch-package has applied patches/cap+*.patch
// (batch delivery, timestamps, wire length, pcap_stats, direction, snaplen,
// immediate mode off, a paused open whose filter compiles on a pool thread,
// checkFilter on a dead handle). npm 11 skips dependency install scripts
// unless allowed, and the unpatched build would be wrong anyway, so we build
// it here. To change the patch: edit node_modules/cap/src/binding.cc, run
// `npx patch-package cap --exclude '^package\.json$|^build/'` (build/ holds
// this machine's objects), then this script.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const capDir = path.dirname(require.resolve('cap/package.json'));
const nodeGyp = process.env.npm_config_node_gyp;
const [cmd, args] = nodeGyp
  ? [process.execPath, [nodeGyp, 'rebuild']]
  : ['npx', ['--yes', 'node-gyp', 'rebuild']];
try {
  execFileSync(cmd, args, { cwd: capDir, stdio: ['ignore', 'ignore', 'inherit'] });
} catch {
  console.error('netprobes: building the libpcap binding (cap) failed. Install a compiler and libpcap headers: apt-get install build-essential libpcap-dev');
  process.exit(1);
}
