// Link-layer facts for counting bytes as the device sees them. Pure.
//
// On the "any" device libpcap replaces each frame's own link header with a
// 20-byte cooked v2 header (which names the device's ARPHRD type), so the
// device's frame length is the captured wire length - 20 + the length of the
// link header that device type puts on its frames.

export const ARPHRD_ETHER = 1;
export const ARPHRD_IEEE802 = 6;
export const ARPHRD_LOOPBACK = 772;

/** Bytes of link-layer header on a frame of a device of this ARPHRD type. */
export function linkHeaderLength(arphrd: number): number {
  switch (arphrd) {
    case ARPHRD_ETHER: // Ethernet, veth, bridges, bonds, VLAN devices, Wi-Fi in managed mode
    case ARPHRD_IEEE802:
    case ARPHRD_LOOPBACK: // lo frames carry an all-zero Ethernet header
      return 14;
    default:
      // ARPHRD_NONE (tun, WireGuard), tunnels (IPIP, SIT, GRE), PPP, raw IP: the IP packet is the frame.
      return 0;
  }
}
