// The packet tab: addresses and ports with names when the toggle is on, the
// flags spelled out, and links to the connection and the flow.
import { EXPORT_FRAMES, type PacketRow } from './definition.ts';
import type { NetprobesApi } from '../../ipc/api.ts';
import { saveBase64 } from '../../renderer/ui/save.dom.ts';
import type { ProbeView } from '../../renderer/ui/view.dom.ts';

function PcapngButton(props: { api: NetprobesApi; notify: (m: string) => void }) {
  const exportPcapng = async () => {
    try {
      const { base64, packets } = await props.api.request({ type: 'exportPcapng' });
      const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
      await saveBase64(props.api, `netprobes-packets-${stamp}.pcapng`, base64);
      props.notify(`exported ${packets} packets as pcapng (the newest ${EXPORT_FRAMES.toLocaleString('en')} are kept; each names its process when --process was on)`);
    } catch (e) {
      props.notify(`pcapng export failed: ${(e as Error).message}`);
    }
  };
  return (
    <button onClick={() => void exportPcapng()} title={`The captured frames the tab keeps (the newest ${EXPORT_FRAMES.toLocaleString('en')}, first 256 bytes of each), with each packet's process as a comment when Processes is on; for Wireshark or tcpdump -r`}>
      Export pcapng
    </button>
  );
}

const FLAG_NAMES: [keyof PacketRow, string][] = [['syn', 'SYN'], ['ack', 'ACK'], ['psh', 'PSH'], ['fin', 'FIN'], ['rst', 'RST'], ['urg', 'URG']];

export const tcpdumpView: ProbeView<PacketRow> = {
  Tools: PcapngButton,
  renderCell: (c, r, names) => {
    if (c.key === 'src' || c.key === 'dst') return names.address(r[c.key]);
    if (c.key === 'sport' || c.key === 'dport') return names.port(r[c.key]);
    return undefined;
  },
  details: (r) => [
    ['Flags', r.proto === 'TCP' ? FLAG_NAMES.filter(([k]) => r[k]).map(([, n]) => n).join(' ') || 'none' : 'UDP has none'],
    ['Flow', `${r.proto} ${r.src}:${r.sport} → ${r.dst}:${r.dport}`],
  ],
  links: (r) => [
    { label: 'Packets of this flow', probe: 'tcpdump', find: `SPORT=${r.sport} DPORT=${r.dport}` },
    { label: 'Packets of both directions of this flow', probe: 'tcpdump', options: { ifaces: [r.dev], filter: `${r.proto.toLowerCase()} and host ${r.src} and host ${r.dst} and port ${r.sport} and port ${r.dport}`, bothDirections: true } },
    { label: 'Connections with this peer', probe: 'tcp-connections', find: `IP_SOURCE=${r.src}` },
    // With the Processes option: the packet's process opens its traffic, connections and socket calls.
    ...(r.pid > 0
      ? [
          { label: 'Traffic of this process', probe: 'nettop' as const, find: `PID=${r.pid}` },
          { label: 'Connections of this process', probe: 'tcp-connections' as const, find: `PID=${r.pid}`, options: { outbound: true } },
          { label: 'Socket calls of this process', probe: 'socket-trace' as const, options: { pid: r.pid } },
        ]
      : []),
  ],
};
