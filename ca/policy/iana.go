package policy

import "net/netip"

// reasonReservedFormat is Boulder's iana.IsReservedAddr text: the block's
// RFC column, then its name, from the IANA special-purpose registries.
const reasonReservedFormat = "IP address is in a reserved address block: %s: %s"

type ianaBlock struct {
	prefix netip.Prefix
	name   string
	rfc    string
}

// ianaBlocks is the IANA IPv4 and IPv6 special-purpose address registries
// (the CSV snapshots Boulder embeds, footnotes removed and runs of whitespace
// in the RFC column collapsed), plus the multicast blocks Boulder appends.
// The first matching entry names the block, so order matters.
var ianaBlocks = [...]ianaBlock{
	{netip.MustParsePrefix("0.0.0.0/8"), `"This network"`, "[RFC791], Section 3.2"},
	{netip.MustParsePrefix("0.0.0.0/32"), `"This host on this network"`, "[RFC1122], Section 3.2.1.3"},
	{netip.MustParsePrefix("10.0.0.0/8"), "Private-Use", "[RFC1918]"},
	{netip.MustParsePrefix("100.64.0.0/10"), "Shared Address Space", "[RFC6598]"},
	{netip.MustParsePrefix("127.0.0.0/8"), "Loopback", "[RFC1122], Section 3.2.1.3"},
	{netip.MustParsePrefix("169.254.0.0/16"), "Link Local", "[RFC3927]"},
	{netip.MustParsePrefix("172.16.0.0/12"), "Private-Use", "[RFC1918]"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF Protocol Assignments", "[RFC6890], Section 2.1"},
	{netip.MustParsePrefix("192.0.0.0/29"), "IPv4 Service Continuity Prefix", "[RFC7335]"},
	{netip.MustParsePrefix("192.0.0.8/32"), "IPv4 dummy address", "[RFC7600]"},
	{netip.MustParsePrefix("192.0.0.9/32"), "Port Control Protocol Anycast", "[RFC7723]"},
	{netip.MustParsePrefix("192.0.0.10/32"), "Traversal Using Relays around NAT Anycast", "[RFC8155]"},
	{netip.MustParsePrefix("192.0.0.170/32"), "NAT64/DNS64 Discovery", "[RFC8880][RFC7050], Section 2.2"},
	{netip.MustParsePrefix("192.0.0.171/32"), "NAT64/DNS64 Discovery", "[RFC8880][RFC7050], Section 2.2"},
	{netip.MustParsePrefix("192.0.2.0/24"), "Documentation (TEST-NET-1)", "[RFC5737]"},
	{netip.MustParsePrefix("192.31.196.0/24"), "AS112-v4", "[RFC7535]"},
	{netip.MustParsePrefix("192.52.193.0/24"), "AMT", "[RFC7450]"},
	{netip.MustParsePrefix("192.88.99.0/24"), "Deprecated (6to4 Relay Anycast)", "[RFC7526]"},
	{netip.MustParsePrefix("192.168.0.0/16"), "Private-Use", "[RFC1918]"},
	{netip.MustParsePrefix("192.175.48.0/24"), "Direct Delegation AS112 Service", "[RFC7534]"},
	{netip.MustParsePrefix("198.18.0.0/15"), "Benchmarking", "[RFC2544]"},
	{netip.MustParsePrefix("198.51.100.0/24"), "Documentation (TEST-NET-2)", "[RFC5737]"},
	{netip.MustParsePrefix("203.0.113.0/24"), "Documentation (TEST-NET-3)", "[RFC5737]"},
	{netip.MustParsePrefix("240.0.0.0/4"), "Reserved", "[RFC1112], Section 4"},
	{netip.MustParsePrefix("255.255.255.255/32"), "Limited Broadcast", "[RFC8190] [RFC919], Section 7"},

	{netip.MustParsePrefix("::1/128"), "Loopback Address", "[RFC4291]"},
	{netip.MustParsePrefix("::/128"), "Unspecified Address", "[RFC4291]"},
	{netip.MustParsePrefix("::ffff:0:0/96"), "IPv4-mapped Address", "[RFC4291]"},
	{netip.MustParsePrefix("64:ff9b::/96"), "IPv4-IPv6 Translat.", "[RFC6052]"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "IPv4-IPv6 Translat.", "[RFC8215]"},
	{netip.MustParsePrefix("100::/64"), "Discard-Only Address Block", "[RFC6666]"},
	{netip.MustParsePrefix("100:0:0:1::/64"), "Dummy IPv6 Prefix", "[RFC9780]"},
	{netip.MustParsePrefix("2001::/23"), "IETF Protocol Assignments", "[RFC2928]"},
	{netip.MustParsePrefix("2001::/32"), "TEREDO", "[RFC4380] [RFC8190]"},
	{netip.MustParsePrefix("2001:1::1/128"), "Port Control Protocol Anycast", "[RFC7723]"},
	{netip.MustParsePrefix("2001:1::2/128"), "Traversal Using Relays around NAT Anycast", "[RFC8155]"},
	{netip.MustParsePrefix("2001:1::3/128"), "DNS-SD Service Registration Protocol Anycast", "[RFC-ietf-dnssd-srp-25]"},
	{netip.MustParsePrefix("2001:2::/48"), "Benchmarking", "[RFC5180][RFC Errata 1752]"},
	{netip.MustParsePrefix("2001:3::/32"), "AMT", "[RFC7450]"},
	{netip.MustParsePrefix("2001:4:112::/48"), "AS112-v6", "[RFC7535]"},
	{netip.MustParsePrefix("2001:10::/28"), "Deprecated (previously ORCHID)", "[RFC4843]"},
	{netip.MustParsePrefix("2001:20::/28"), "ORCHIDv2", "[RFC7343]"},
	{netip.MustParsePrefix("2001:30::/28"), "Drone Remote ID Protocol Entity Tags (DETs) Prefix", "[RFC9374]"},
	{netip.MustParsePrefix("2001:db8::/32"), "Documentation", "[RFC3849]"},
	{netip.MustParsePrefix("2002::/16"), "6to4", "[RFC3056]"},
	{netip.MustParsePrefix("2620:4f:8000::/48"), "Direct Delegation AS112 Service", "[RFC7534]"},
	{netip.MustParsePrefix("3fff::/20"), "Documentation", "[RFC9637]"},
	{netip.MustParsePrefix("5f00::/16"), "Segment Routing (SRv6) SIDs", "[RFC9602]"},
	{netip.MustParsePrefix("fc00::/7"), "Unique-Local", "[RFC4193] [RFC8190]"},
	{netip.MustParsePrefix("fe80::/10"), "Link-Local Unicast", "[RFC4291]"},

	{netip.MustParsePrefix("224.0.0.0/4"), "Multicast Addresses", "[RFC3171]"},
	{netip.MustParsePrefix("ff00::/8"), "Multicast Addresses", "[RFC4291]"},
}

// localBlocks are the reserved blocks fakeca accepts unless
// StrictPublicSuffix: loopback and RFC 1918 private use.
var localBlocks = [...]netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
}

func reservedBlock(addr netip.Addr) (ianaBlock, bool) {
	for _, b := range ianaBlocks {
		if b.prefix.Contains(addr) {
			return b, true
		}
	}
	return ianaBlock{}, false
}

func localAddr(addr netip.Addr) bool {
	for _, p := range localBlocks {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
