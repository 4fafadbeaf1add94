// Every drop reason in plain words: what happened to the packet and, where
// there is one, what to do about it. The running kernel's own list comes from
// skb:kfree_skb's `format` (the `reason` field's __print_symbolic), so a new
// kernel's reasons appear by themselves: a reason missing here is explained as
// unknown, with a link to the kernel's definition, and the unit test that reads
// the running kernel's list fails until it is written down here.
//
// Written from the comments of enum skb_drop_reason (include/net/dropreason-core.h,
// Linux 6.18) and the code that uses each value. Pure: no Node, no DOM, so the
// collector, the CLI and the renderer share it.

/** What a drop reason means (`what`), and what to do about it (`remedy`, when something can be done). */
export interface ReasonText {
  readonly what: string;
  readonly remedy?: string;
}

// `{who}` is the process that owns the socket, e.g. "iperf3 (PID 812)", or "the receiving process".
const R: Record<string, ReasonText> = {
  NOT_SPECIFIED: { what: 'the kernel freed the packet as a drop without giving a reason (code not yet annotated with one)', remedy: 'look at LOCATION: the function that dropped it' },
  NO_SOCKET: { what: 'no socket accepts packets for the destination port: nothing listens there (the sender gets a TCP reset or an ICMP port unreachable)', remedy: 'start the service, or stop the sender; a scan of closed ports also shows here' },
  SOCKET_CLOSE: { what: 'the socket was closed while the packet waited in its queue', remedy: 'the application closed with data unread; read it before close() if it matters' },
  SOCKET_FILTER: { what: "a socket filter (BPF attached with SO_ATTACH_FILTER, e.g. by tcpdump's own socket) rejected the packet", remedy: 'expected when a capture filter excludes the packet' },
  SOCKET_RCVBUFF: { what: '{who} does not read its socket fast enough: its receive buffer was full{queued}', remedy: 'raise SO_RCVBUF (and net.core.rmem_max, its ceiling), or read faster (more threads, recvmmsg)' },
  UNIX_DISCONNECT: { what: 'the peer of a Unix socket disconnected with the packet still queued' },
  UNIX_SKIP_OOB: { what: 'an out-of-band byte on a Unix stream socket was skipped because the reader did not ask for it (SO_OOBINLINE off)' },
  PKT_TOO_SMALL: { what: 'the packet is shorter than its headers say: truncated or malformed', remedy: 'a faulty sender, NIC or middlebox; capture it to see' },
  TCP_CSUM: { what: 'the TCP checksum is wrong: corrupted on the way', remedy: 'check cabling, the NIC (ethtool -S) and checksum offload settings' },
  UDP_CSUM: { what: 'the UDP checksum is wrong: corrupted on the way', remedy: 'check cabling, the NIC (ethtool -S) and checksum offload settings' },
  NETFILTER_DROP: { what: 'a firewall rule (netfilter: nftables or iptables) dropped it', remedy: 'list the rules (nft list ruleset, iptables -L -v) and their counters to find which one' },
  OTHERHOST: { what: 'the packet was addressed to another host\'s MAC address (seen in promiscuous mode, or flooded by a switch)', remedy: 'normal on a shared segment or while capturing promiscuously' },
  IP_CSUM: { what: 'the IP header checksum is wrong: corrupted on the way', remedy: 'check cabling and the NIC' },
  IP_INHDR: { what: 'the IP header is invalid (bad version, length or header length)', remedy: 'a faulty or hostile sender' },
  IP_RPFILTER: { what: 'reverse path filtering: the source address would not be routed back through the interface it came in on (spoofed, or asymmetric routing)', remedy: 'with asymmetric routing on purpose, set net.ipv4.conf.<iface>.rp_filter to 2 (loose) or 0' },
  UNICAST_IN_L2_MULTICAST: { what: 'an IP unicast packet came in an Ethernet multicast or broadcast frame (RFC 1122 says drop it)' },
  XFRM_POLICY: { what: 'an IPsec (xfrm) policy check failed: the packet is not allowed in or out without the right transformation', remedy: 'check ip xfrm policy and state' },
  IP_NOPROTO: { what: 'no handler for the packet\'s IP protocol number on this host', remedy: 'load the protocol\'s module, or ignore: nothing here speaks it' },
  PROTO_MEM: { what: 'the protocol ran out of its memory budget (e.g. UDP over net.ipv4.udp_mem, or a socket under memory pressure)', remedy: 'raise net.ipv4.udp_mem / tcp_mem, or find who holds so much unread data' },
  TCP_AUTH_HDR: { what: 'the TCP segment carries both MD5 and TCP-AO signature options, which is not allowed' },
  TCP_MD5NOTFOUND: { what: 'the socket expects a TCP-MD5 signature (RFC 2385) but the segment has none', remedy: 'configure the same MD5 key on both peers (BGP sessions, typically)' },
  TCP_MD5UNEXPECTED: { what: 'the segment carries a TCP-MD5 signature the socket has no key for', remedy: 'configure the MD5 key on this side too, or remove it from the peer' },
  TCP_MD5FAILURE: { what: 'the TCP-MD5 signature does not match: the keys differ (or the segment was altered)', remedy: 'make the MD5 keys equal on both peers' },
  TCP_AONOTFOUND: { what: 'the socket requires TCP-AO (RFC 5925) but the segment has no AO option', remedy: 'configure TCP-AO on both peers' },
  TCP_AOUNEXPECTED: { what: 'the segment carries a TCP-AO option the socket was not set up for' },
  TCP_AOKEYNOTFOUND: { what: 'the segment\'s TCP-AO key id matches no key of the socket', remedy: 'align the TCP-AO key ids of both peers' },
  TCP_AOFAILURE: { what: 'the TCP-AO signature does not match', remedy: 'make the TCP-AO keys equal on both peers' },
  SOCKET_BACKLOG: { what: 'the socket\'s backlog was full while {who} held the socket lock (a busy or slow reader)', remedy: 'read faster; raise SO_RCVBUF' },
  TCP_FLAGS: { what: 'the TCP flags make no sense in the connection\'s state (e.g. no ACK on an established connection)', remedy: 'a faulty or hostile peer, or a middlebox rewriting segments' },
  TCP_ABORT_ON_DATA: { what: 'data arrived for a connection {who} had already closed (shut down for reading); the kernel answers with a reset', remedy: 'the application closed while its peer was still sending: close later or tell the peer to stop first' },
  TCP_ZEROWINDOW: { what: 'the segment came while the receive window was zero: {who} is not reading and its buffer is full', remedy: 'read faster; raise the receive buffer (net.ipv4.tcp_rmem)' },
  TCP_OLD_DATA: { what: 'all the segment\'s data had been received before: a retransmission of data already acknowledged (the ACK was lost or late)', remedy: 'harmless alone; many of them point to loss on the path back to the sender' },
  TCP_OVERWINDOW: { what: 'the segment\'s data lies beyond the receive window the kernel advertised', remedy: 'a peer that ignores the window, or a window that shrank' },
  TCP_OFOMERGE: { what: 'an out-of-order segment duplicated data already in the out-of-order queue', remedy: 'harmless alone; points to reordering or spurious retransmissions' },
  TCP_RFC7323_PAWS: { what: 'PAWS (RFC 7323): the segment\'s timestamp is older than the last one seen, so it is taken as an old duplicate', remedy: 'often NAT mixing several hosts behind one address; a peer whose clock jumped' },
  TCP_RFC7323_PAWS_ACK: { what: 'PAWS (RFC 7323) rejected a pure ACK with an old timestamp' },
  TCP_RFC7323_TW_PAWS: { what: 'PAWS (RFC 7323) rejected a segment for a connection in TIME_WAIT' },
  TCP_RFC7323_TSECR: { what: 'the segment echoes a timestamp (TSecr) this side never sent', remedy: 'a faulty peer or middlebox' },
  TCP_LISTEN_OVERFLOW: { what: 'the listening socket\'s accept queue was full: {who} does not accept() connections fast enough', remedy: 'accept faster; raise the listen() backlog and net.core.somaxconn' },
  TCP_OLD_SEQUENCE: { what: 'the segment\'s sequence number is old: outside the receive window, before it', remedy: 'duplicates from the network, or loss of ACKs' },
  TCP_INVALID_SEQUENCE: { what: 'the segment\'s sequence number is outside the receive window', remedy: 'a confused or hostile peer, or a middlebox changing sequence numbers' },
  TCP_INVALID_END_SEQUENCE: { what: 'the segment ends beyond the receive window' },
  TCP_INVALID_ACK_SEQUENCE: { what: 'the segment acknowledges data that was never sent, or is too old' },
  TCP_RESET: { what: 'the segment was a reset (RST): the peer aborted the connection, and the reset itself is freed as a drop', remedy: 'see why the peer reset: a crash, SO_LINGER 0, a firewall, or a timeout on its side' },
  TCP_INVALID_SYN: { what: 'a SYN arrived on an established connection or in an invalid state', remedy: 'a peer that restarted and reuses the same ports; the kernel answers with a challenge ACK' },
  TCP_CLOSE: { what: 'the segment arrived for a socket in CLOSE state' },
  TCP_FASTOPEN: { what: 'TCP Fast Open data in a SYN could not be accepted' },
  TCP_OLD_ACK: { what: 'the segment acknowledges data already acknowledged: an old ACK' },
  TCP_TOO_OLD_ACK: { what: 'the segment acknowledges data from before the window: a very old ACK' },
  TCP_ACK_UNSENT_DATA: { what: 'the segment acknowledges data not yet sent', remedy: 'a confused peer or a middlebox rewriting sequence numbers' },
  TCP_OFO_QUEUE_PRUNE: { what: 'the out-of-order queue was pruned to free memory: {who}\'s socket was over its buffer', remedy: 'loss or reordering combined with a slow reader; raise net.ipv4.tcp_rmem' },
  TCP_OFO_DROP: { what: 'an out-of-order segment was dropped: no room, or outside the window', remedy: 'loss or heavy reordering on the path' },
  IP_OUTNOROUTES: { what: 'no route to the destination when sending', remedy: 'check ip route: a default route, or the destination\'s network' },
  BPF_CGROUP_EGRESS: { what: 'a BPF program attached to the sender\'s cgroup refused the packet on its way out', remedy: 'check the cgroup\'s BPF programs (bpftool cgroup tree): a container or systemd IP policy' },
  IPV6DISABLED: { what: 'IPv6 is disabled on the interface', remedy: 'net.ipv6.conf.<iface>.disable_ipv6=0 if IPv6 is wanted' },
  NEIGH_CREATEFAIL: { what: 'the kernel could not create a neighbour (ARP/NDP) entry for the next hop', remedy: 'the neighbour table may be full: raise net.ipv4.neigh.default.gc_thresh3' },
  NEIGH_FAILED: { what: 'the next hop\'s link address could not be resolved (ARP/NDP got no answer)', remedy: 'the next hop or gateway is down or unreachable on the link' },
  NEIGH_QUEUEFULL: { what: 'too many packets waited for a neighbour (ARP/NDP) resolution', remedy: 'the next hop does not answer ARP/NDP; raise unres_qlen_bytes if it is just slow' },
  NEIGH_DEAD: { what: 'the neighbour entry for the next hop was removed while the packet waited' },
  NEIGH_HH_FILLFAIL: { what: 'the link-layer header for the next hop could not be filled in' },
  TC_EGRESS: { what: 'a traffic-control (tc) filter or action on the way out dropped it', remedy: 'tc filter show dev <iface> egress' },
  SECURITY_HOOK: { what: 'a security module (SELinux, AppArmor, a BPF LSM) refused the packet', remedy: 'check the security module\'s audit log' },
  QDISC_DROP: { what: 'the interface\'s queueing discipline (qdisc) dropped it on the way out: the queue was full', remedy: 'the link is saturated: send less, or raise the qdisc limit / txqueuelen' },
  QDISC_OVERLIMIT: { what: 'the qdisc dropped it for being over its configured limit', remedy: 'check the qdisc\'s limits (tc -s qdisc)' },
  QDISC_CONGESTED: { what: 'the qdisc dropped it because of congestion (AQM, e.g. CoDel or PIE)', remedy: 'the link is saturated' },
  CAKE_FLOOD: { what: 'the CAKE qdisc dropped it from a flow flooding the queue' },
  FQ_BAND_LIMIT: { what: 'the fq qdisc\'s band was over its packet limit' },
  FQ_HORIZON_LIMIT: { what: 'the fq qdisc dropped a packet timestamped too far in the future (beyond its horizon)' },
  FQ_FLOW_LIMIT: { what: 'the fq qdisc\'s per-flow limit was reached: one flow queued too much', remedy: 'raise fq\'s flow_limit, or pace the sender' },
  CPU_BACKLOG: { what: 'the CPU\'s input backlog was full: packets came in faster than this CPU could take them', remedy: 'raise net.core.netdev_max_backlog; spread the load (RPS/RSS)' },
  XDP: { what: 'an XDP program on the interface dropped it (XDP_DROP)', remedy: 'ip link show shows the attached program' },
  TC_INGRESS: { what: 'a traffic-control (tc) filter or action on the way in dropped it', remedy: 'tc filter show dev <iface> ingress' },
  UNHANDLED_PROTO: { what: 'no handler for the packet\'s protocol (EtherType) on this host', remedy: 'normal for protocols nothing here speaks (e.g. LLDP frames)' },
  SKB_CSUM: { what: 'computing the packet\'s checksum in software failed' },
  SKB_GSO_SEG: { what: 'segmenting a large (GSO) packet into wire-sized ones failed' },
  SKB_UCOPY_FAULT: { what: 'copying the data from the process\'s memory failed (a bad buffer address)' },
  DEV_HDR: { what: 'the device could not build the packet\'s link-layer header' },
  DEV_READY: { what: 'the device was not ready (down, or not running) when the packet was sent', remedy: 'bring the interface up' },
  FULL_RING: { what: 'the device\'s transmit ring was full' },
  NOMEM: { what: 'the kernel could not allocate memory for the packet', remedy: 'the machine is short of memory' },
  HDR_TRUNC: { what: 'the packet was truncated before its headers ended' },
  TAP_FILTER: { what: 'a TUN/TAP device\'s filter dropped it (on the way to the user space reader)' },
  TAP_TXFILTER: { what: 'a TAP device\'s transmit filter dropped it' },
  ICMP_CSUM: { what: 'the ICMP checksum is wrong' },
  INVALID_PROTO: { what: 'the packet\'s protocol does not match what the device or socket accepts' },
  IP_INADDRERRORS: { what: 'the destination IP address is invalid here (e.g. a class E address)' },
  IP_INNOROUTES: { what: 'no route for the incoming packet (not local, and not forwardable)', remedy: 'check ip route and net.ipv4.ip_forward' },
  IP_LOCAL_SOURCE: { what: 'the packet came from outside with one of this host\'s own addresses as its source (spoofed, or looped back)' },
  IP_INVALID_SOURCE: { what: 'the source address is invalid (multicast, broadcast or zero)' },
  IP_LOCALNET: { what: 'a 127.0.0.0/8 address arrived on an interface other than loopback (route_localnet off)' },
  IP_INVALID_DEST: { what: 'the destination address is invalid for this packet' },
  PKT_TOO_BIG: { what: 'the packet is bigger than the path allows (MTU) and may not be fragmented', remedy: 'check MTUs along the path; let ICMP "fragmentation needed" through firewalls' },
  DUP_FRAG: { what: 'a duplicate IP fragment' },
  FRAG_REASM_TIMEOUT: { what: 'an IP packet\'s fragments did not all arrive in time: the ones that did were dropped', remedy: 'fragments are being lost on the path; avoid fragmentation (smaller datagrams, PMTU discovery)' },
  FRAG_TOO_FAR: { what: 'an IP fragment came too far out of order (ipfrag_max_dist)' },
  TCP_MINTTL: { what: 'the segment\'s TTL is below the socket\'s minimum (IP_MINTTL, GTSM for BGP)', remedy: 'the peer is more hops away than allowed' },
  IPV6_BAD_EXTHDR: { what: 'an invalid IPv6 extension header' },
  IPV6_NDISC_FRAG: { what: 'an IPv6 neighbour discovery message was fragmented, which is not allowed' },
  IPV6_NDISC_HOP_LIMIT: { what: 'an IPv6 neighbour discovery message had a hop limit other than 255: it did not come from the link' },
  IPV6_NDISC_BAD_CODE: { what: 'an IPv6 neighbour discovery message had a bad ICMPv6 code' },
  IPV6_NDISC_BAD_OPTIONS: { what: 'an IPv6 neighbour discovery message had invalid options' },
  IPV6_NDISC_NS_OTHERHOST: { what: 'an IPv6 neighbour solicitation was for another host\'s address' },
  QUEUE_PURGE: { what: 'a queue of packets was purged (a socket or device being torn down, or a reset)' },
  TC_COOKIE_ERROR: { what: 'a tc action\'s cookie did not match (tc classifier internals)' },
  PACKET_SOCK_ERROR: { what: 'a packet socket (AF_PACKET, e.g. a capture) could not take the packet', remedy: 'a capture that does not keep up: a bigger buffer, or a narrower filter' },
  TC_CHAIN_NOTFOUND: { what: 'a tc filter jumped to a chain that does not exist' },
  TC_RECLASSIFY_LOOP: { what: 'tc reclassified the packet too many times (a loop in the filters)' },
  VXLAN_INVALID_HDR: { what: 'a VXLAN packet with an invalid header' },
  VXLAN_VNI_NOT_FOUND: { what: 'a VXLAN packet for a VNI (network id) no VXLAN device here has' },
  MAC_INVALID_SOURCE: { what: 'the source MAC address is invalid (multicast or zero)' },
  VXLAN_ENTRY_EXISTS: { what: 'a VXLAN forwarding entry already exists for this source' },
  NO_TX_TARGET: { what: 'no device to send the packet on (e.g. a VXLAN or bond with no destination)' },
  IP_TUNNEL_ECN: { what: 'a tunnelled packet\'s ECN bits could not be combined with the outer header\'s' },
  TUNNEL_TXINFO: { what: 'a tunnel had no transmit information (metadata) for the packet' },
  LOCAL_MAC: { what: 'the source MAC address is one of this host\'s own (a loop)' },
  ARP_PVLAN_DISABLE: { what: 'ARP proxying for a private VLAN is disabled for this packet' },
  MAC_IEEE_MAC_CONTROL: { what: 'an IEEE MAC control frame (e.g. Ethernet PAUSE), not to be forwarded' },
  BRIDGE_INGRESS_STP_STATE: { what: 'the bridge port is not forwarding (STP blocking or learning state)' },
  CAN_RX_INVALID_FRAME: { what: 'an invalid CAN frame' },
  CANFD_RX_INVALID_FRAME: { what: 'an invalid CAN FD frame' },
  CANXL_RX_INVALID_FRAME: { what: 'an invalid CAN XL frame' },
  PFMEMALLOC: { what: 'the packet was allocated from emergency memory reserves and the socket may not use them', remedy: 'the machine is very short of memory' },
  DUALPI2_STEP_DROP: { what: 'the DualPI2 qdisc dropped it at its step threshold (L4S congestion)' },
  PSP_INPUT: { what: 'a PSP (encryption) check failed on the way in' },
  PSP_OUTPUT: { what: 'a PSP (encryption) check failed on the way out' },
  RECURSION_LIMIT: { what: 'the packet went through too many nested devices (tunnels in tunnels): a loop', remedy: 'check the tunnel and routing setup for a loop' },
  MAX: { what: 'not a reason: the end marker of the kernel\'s list (should never be seen)' },
};

/** The kernel's definition of a reason, for reasons this version of NetProbes does not know. */
export const kernelDefinition = (reason: string) => `https://elixir.bootlin.com/linux/latest/A/ident/SKB_DROP_REASON_${reason}`;

/** The explanation of a reason, or undefined when it is not written down here. */
export function reasonText(reason: string): ReasonText | undefined {
  return Object.prototype.hasOwnProperty.call(R, reason) ? R[reason] : undefined;
}

/** What one row of drops is about: the process whose socket lost them, and that socket's queue when looked at. */
export interface DropContext {
  readonly pid?: string;
  readonly command?: string;
  /** Bytes waiting in the socket's receive queue when /proc was read. */
  readonly queuedBytes?: number;
}

/** A drop reason in plain words, with its remedy; unknown reasons say so and point to the kernel's definition. */
export function explainDrop(reason: string, ctx: DropContext = {}): string {
  if (!reason) return 'this kernel gives no drop reasons (before 5.17): look at LOCATION';
  const text = reasonText(reason);
  if (!text) return `${reason}: a drop reason this version of NetProbes does not explain yet; the kernel's definition: ${kernelDefinition(reason)}`;
  const who = ctx.pid ? `${ctx.command || '?'} (PID ${ctx.pid})` : 'the receiving process';
  const queued = ctx.queuedBytes ? ` (${ctx.queuedBytes} bytes waiting in it when looked at)` : '';
  const what = text.what.replace('{who}', who).replace('{queued}', queued);
  const sentence = what.charAt(0).toUpperCase() + what.slice(1);
  return text.remedy ? `${sentence}. What to do: ${text.remedy}.` : `${sentence}.`;
}
