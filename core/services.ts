// Names of well-known ports for the renderer's "names" toggle: a short fixed list of the ports people recognise, the
// same on every machine, named as netbase's /etc/services names them (what ss and tcpdump print; a test checks it),
// plus a few common ports that file does not list.

const SERVICES: Record<number, string> = {
  20: 'ftp-data', 21: 'ftp', 22: 'ssh', 23: 'telnet', 25: 'smtp', 53: 'domain', 67: 'bootps', 68: 'bootpc', 69: 'tftp',
  80: 'http', 88: 'kerberos', 110: 'pop3', 111: 'sunrpc', 119: 'nntp', 123: 'ntp', 137: 'netbios-ns', 138: 'netbios-dgm',
  139: 'netbios-ssn', 143: 'imap', 161: 'snmp', 162: 'snmptrap', 179: 'bgp', 389: 'ldap', 443: 'https', 445: 'microsoft-ds',
  465: 'submissions', 500: 'isakmp', 514: 'syslog', 515: 'printer', 546: 'dhcpv6-client', 547: 'dhcpv6-server',
  587: 'submission', 631: 'ipp', 636: 'ldaps', 853: 'domain-s', 873: 'rsync', 993: 'imaps', 995: 'pop3s', 1080: 'socks',
  1194: 'openvpn', 1433: 'ms-sql-s', 1521: 'oracle', 1701: 'l2tp', 1723: 'pptp', 1883: 'mqtt', 1900: 'ssdp',
  2049: 'nfs', 2375: 'docker', 2376: 'docker-s', 3128: 'squid', 3306: 'mysql', 3389: 'ms-wbt-server', 3478: 'stun',
  4500: 'ipsec-nat-t', 5060: 'sip', 5061: 'sip-tls', 5222: 'xmpp-client', 5353: 'mdns', 5355: 'llmnr', 5432: 'postgresql',
  5672: 'amqp', 5900: 'vnc', 6379: 'redis', 6443: 'kubernetes', 6667: 'ircd', 8080: 'http-alt', 8443: 'https-alt',
  9000: 'cslistener', 9092: 'kafka', 9200: 'elasticsearch', 11211: 'memcache', 27017: 'mongodb', 51820: 'wireguard',
};

export function serviceName(port: number): string | undefined {
  return SERVICES[port];
}
