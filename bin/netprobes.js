#!/usr/bin/env node
// The `netprobes` command: runs the built CLI (npm install builds dist/).
const { existsSync } = require('node:fs');
const path = require('node:path');
const cli = path.join(__dirname, '..', 'dist', 'cli.js');
if (!existsSync(cli)) {
  console.error('netprobes: not built yet. Run the setup first: bash scripts/setup.sh (or npm install).');
  process.exit(1);
}
require(cli);
