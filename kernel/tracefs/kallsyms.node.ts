// Loads /proc/kallsyms once per probe start (as root its addresses are real).

import { readFileSync } from 'node:fs';
import { KernelSymbols } from '../../core/tracefs/ksyms.ts';

export function loadKernelSymbols(path = '/proc/kallsyms'): KernelSymbols {
  try {
    return new KernelSymbols(readFileSync(path, 'utf8'));
  } catch {
    return new KernelSymbols('');
  }
}
