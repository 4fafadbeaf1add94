// Starting the collector as root from a user's session: sudo-prompt shows the
// polkit dialog (pkexec) or kdesudo. pkexec keeps neither the environment nor
// the working directory, so the command carries absolute paths, the owner's
// uid as an argument, and ELECTRON_RUN_AS_NODE for Electron's own binary.
// sudo-prompt answers only when the command exits: for us, when the collector does.

import sudo from 'sudo-prompt';
import type { Launcher } from '../host/collector-link.node.ts';

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export const sudoPromptLauncher: Launcher = (plan) => {
  const command = ['env', 'ELECTRON_RUN_AS_NODE=1', plan.node, plan.collectorScript, '--socket', plan.socket, '--owner-uid', String(plan.ownerUid)]
    .map(quote)
    .join(' ');
  const exited = new Promise<string | null>((resolve) => {
    sudo.exec(command, { name: 'NetProbes' }, (error) => {
      if (!error) return resolve(null);
      const msg = error.message;
      if (/did not grant permission/i.test(msg)) return resolve('administrator rights were not granted (the dialog was cancelled or refused)');
      if (/No authentication agent|no polkit agent|agent/i.test(msg)) return resolve('no polkit authentication agent is running to ask for the password');
      resolve(`the collector could not start as administrator: ${msg}`);
    });
  });
  // Closing the socket ends a root collector; we cannot signal it ourselves.
  return { exited, kill: () => {} };
};
