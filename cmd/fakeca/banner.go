package main

import (
	"fmt"
	"io"

	"github.com/fakeca/fakeca/ca/instance"
	"github.com/fakeca/fakeca/dnsserver"
)

func printBanner(w io.Writer, inst *instance.Instance, bundlePath string) {
	fmt.Fprintf(w, "fakeca is serving ACME at %s\n", inst.DirectoryURL())
	fmt.Fprintf(w, "  trust bundle (serving certificate + roots): %s\n", bundlePath)
	fmt.Fprintf(w, "  management: https://%s   public HTTP (AIA/CRL/OCSP): http://%s\n", inst.MgmtAddr(), inst.HTTPAddr())
	if dns := inst.DNS(); dns != nil {
		fmt.Fprintf(w, "  DNS (RFC 2136 updates for %v): %s", dns.Zones(), dns.Addr())
		if a := dns.ListenerAddr(dnsserver.ListenerManagement); a != "" {
			fmt.Fprintf(w, "   challtestsrv API: http://%s", a)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  try: fakeca issue -d www.example.test --challenge dns-01 --server %s --ca-bundle %s\n\n",
		inst.DirectoryURL(), bundlePath)
	fmt.Fprintf(w, "cert-manager ClusterIssuer (the server URL must be reachable from the cluster; see --tls-hosts):\n---\n")
	_ = renderClusterIssuer(w, defaultIssuerSpec(inst.DirectoryURL(), inst.BundlePEM()))
	fmt.Fprintln(w, "---\nPress Ctrl-C to stop.")
}
