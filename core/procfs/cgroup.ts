// A process's cgroup as a user knows it: the systemd unit, the container, the
// Flatpak or Snap app, the Kubernetes pod its cgroup path names. Pure: the text
// of /proc/<pid>/cgroup in, a name out (kernel/procfs/cgroup.node.ts reads the
// file and the container runtimes' names). The path patterns are those systemd,
// Docker, Podman (libpod), containerd/CRI-O, Flatpak, Snap and the kubelet
// write, as nethogs and bandwhich cannot tell them apart.

/** The cgroup v2 path of a process ("0::/…"); on a hybrid host whose v2 path is "/", the name=systemd v1 path. */
export function cgroupPath(text: string): string {
  let v2: string | null = null;
  let systemd: string | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('0::')) v2 = line.slice(3);
    else {
      const m = /^\d+:name=systemd:(.*)$/.exec(line);
      if (m) systemd = m[1]!;
    }
  }
  if (v2 !== null && v2 !== '/') return v2;
  return systemd ?? v2 ?? '';
}

/** What a cgroup is: its kind, an id (a container's full id, a pod's uid) and the name to show. */
export interface CgroupIdentity {
  kind: 'docker' | 'podman' | 'containerd' | 'crio' | 'kubepod' | 'flatpak' | 'snap' | 'unit' | 'cgroup' | 'root';
  /** A container's 64-hex id, a pod's uid; '' otherwise. */
  id: string;
  /** E.g. "nginx.service", "docker:3f2a9c1b7e4d", "flatpak:org.mozilla.firefox", "k8s-pod:…", "np17.slice/x". */
  name: string;
}

const HEX64 = '([0-9a-f]{64})';
const CONTAINER_PATTERNS: [RegExp, CgroupIdentity['kind']][] = [
  [new RegExp(`(?:^|/)docker-${HEX64}\\.scope$`), 'docker'],
  [new RegExp(`^/docker/${HEX64}$`), 'docker'],
  [new RegExp(`(?:^|/)libpod-(?:conmon-)?${HEX64}\\.scope(?:/.*)?$`), 'podman'],
  [new RegExp(`(?:^|/)cri-containerd-${HEX64}\\.scope$`), 'containerd'],
  [new RegExp(`(?:^|/)crio-(?:conmon-)?${HEX64}\\.scope$`), 'crio'],
];
const KUBEPOD = /(?:^|\/)kubepods[^/]*(?:\/[^/]*)*?\/(?:kubepods-[a-z]+-)?pod([0-9a-f_-]{36})(?:\.slice)?(?:\/|$)/;

/** The identity of a cgroup path. Kubernetes first (a pod's containers are runtime scopes inside it). */
export function identifyCgroup(path: string): CgroupIdentity {
  if (!path || path === '/') return { kind: 'root', id: '', name: '' };
  const pod = KUBEPOD.exec(path);
  if (pod) {
    const uid = pod[1]!.replace(/_/g, '-');
    return { kind: 'kubepod', id: uid, name: `k8s-pod:${uid}` };
  }
  for (const [re, kind] of CONTAINER_PATTERNS) {
    const m = re.exec(path);
    if (m) return { kind, id: m[1]!, name: `${kind}:${m[1]!.slice(0, 12)}` };
  }
  const leaf = path.slice(path.lastIndexOf('/') + 1);
  // Flatpak: app-flatpak-<app id>-<n>.scope; Snap: snap.<name>.<app>-<uuid|n>.scope.
  const flatpak = /^app-flatpak-(.+)-\d+\.scope$/.exec(leaf);
  if (flatpak) return { kind: 'flatpak', id: '', name: `flatpak:${flatpak[1]}` };
  const snap = /^snap\.([^.]+)\.[^/]*\.scope$/.exec(leaf);
  if (snap) return { kind: 'snap', id: '', name: `snap:${snap[1]}` };
  // A systemd unit: the innermost .service or .scope (a service's own sub-cgroups, e.g. "…/nginx.service/init", name the service).
  const units = path.split('/').filter((p) => /\.(?:service|scope)$/.test(p));
  if (units.length) return { kind: 'unit', id: '', name: units[units.length - 1]! };
  // Anything else (a slice, a hand-made cgroup): its path without the leading slash, as short as it is.
  return { kind: 'cgroup', id: '', name: path.replace(/^\/+/, '') };
}
