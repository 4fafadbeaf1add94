// Reads a process's cgroup and names it (core/procfs/cgroup.ts), with the
// container's own name where the runtime's metadata is readable: Docker's
// /var/lib/docker/containers/<id>/config.v2.json ("Name") and Podman's
// /var/lib/containers/storage/overlay-containers/containers.json ("names").
// Container names are cached per id (bounded); a file that cannot be read or
// parsed leaves the short id.

import { readFileSync, statSync } from 'node:fs';
import { cgroupPath, identifyCgroup } from '../../core/procfs/cgroup.ts';

/** Metadata files larger than this are not read (a container's config is a few KiB; Podman's list grows with containers). */
const MAX_METADATA_BYTES = 8 << 20;
const MAX_CACHED = 1024;
const containerNames = new Map<string, string | null>();

/** The name to show for the cgroup of `pid`, '' when it is the root cgroup or the process is gone. */
export function readCgroupName(pid: number, proc = '/proc'): string {
  let text: string;
  try {
    text = readFileSync(`${proc}/${pid}/cgroup`, 'utf8');
  } catch {
    return '';
  }
  const identity = identifyCgroup(cgroupPath(text));
  if (identity.kind !== 'docker' && identity.kind !== 'podman') return identity.name;
  const name = containerName(identity.kind, identity.id);
  return name ? `${identity.name} (${name})` : identity.name;
}

function containerName(kind: 'docker' | 'podman', id: string): string | null {
  const key = `${kind}:${id}`;
  if (containerNames.has(key)) return containerNames.get(key)!;
  let name: string | null = null;
  try {
    if (kind === 'docker') {
      const config = readSmallJson(`/var/lib/docker/containers/${id}/config.v2.json`) as { Name?: unknown } | null;
      if (typeof config?.Name === 'string') name = config.Name.replace(/^\//, '');
    } else {
      const list = readSmallJson('/var/lib/containers/storage/overlay-containers/containers.json') as { id?: unknown; names?: unknown }[] | null;
      const entry = Array.isArray(list) ? list.find((c) => c?.id === id) : undefined;
      if (Array.isArray(entry?.names) && typeof entry.names[0] === 'string') name = entry.names[0];
    }
  } catch {
    name = null;
  }
  if (containerNames.size >= MAX_CACHED) containerNames.delete(containerNames.keys().next().value!);
  containerNames.set(key, name);
  return name;
}

function readSmallJson(path: string): unknown {
  try {
    if (statSync(path).size > MAX_METADATA_BYTES) return null;
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch {
    return null;
  }
}
