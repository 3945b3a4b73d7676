package httpx

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Guard is the operator's rule for the URLs a policy may name: https only, unless the policy sets its
// documented insecure flag, and, when AllowedHosts is not empty, only hosts that match one of its
// patterns. A pattern is a host name (destiny.example.org), a wildcard of subdomains (*.jamfcloud.com,
// which does not match jamfcloud.com itself), or either with a port (destiny.example.org:8443; without
// one, any port). Empty AllowedHosts allows any host (the default; documented in the README's security
// section, with an egress NetworkPolicy example for clusters that want a hard wall).
type Guard struct {
	AllowedHosts []string
}

// ParseAllowedHosts splits a comma-separated --allowed-hosts value and checks each pattern.
func ParseAllowedHosts(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" {
			continue
		}
		host := p
		if h, port, err := net.SplitHostPort(p); err == nil {
			if _, perr := strconv.ParseUint(port, 10, 16); perr != nil {
				return nil, fmt.Errorf("allowed host %q has a port that is not a number", p)
			}
			host = h
		}
		if strings.ContainsAny(p, "/@") || strings.Contains(host, "@") || strings.Count(host, "*") > 1 ||
			(strings.Contains(host, "*") && !strings.HasPrefix(host, "*.")) {
			return nil, fmt.Errorf("allowed host %q is not a host name, *.domain, or either with :port", p)
		}
		out = append(out, p)
	}
	return out, nil
}

// Check returns nil when u may be called: https (or http with insecure), and an allowed host.
func (g Guard) Check(u *url.URL, insecure bool) error {
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !insecure {
			return fmt.Errorf("%s uses http://: credentials would cross the network in clear; use https://, or set insecure: true on this system for a lab server", u.Redacted())
		}
	default:
		return fmt.Errorf("%s is not an http(s) URL", u.Redacted())
	}
	if len(g.AllowedHosts) == 0 {
		return nil
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	for _, p := range g.AllowedHosts {
		ph, pp := p, ""
		if h, portPart, err := net.SplitHostPort(p); err == nil {
			ph, pp = h, portPart
		}
		if pp != "" && pp != port {
			continue
		}
		if strings.HasPrefix(ph, "*.") {
			if strings.HasSuffix(host, ph[1:]) && len(host) > len(ph)-1 {
				return nil
			}
			continue
		}
		if host == ph {
			return nil
		}
	}
	return fmt.Errorf("host %s is not in the manager's --allowed-hosts (%s)", u.Host, strings.Join(g.AllowedHosts, ","))
}
