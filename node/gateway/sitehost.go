package gateway

import (
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"

	"floe/chainlink"
)

// Sites by host name (Config.SiteDomain, `floe gateway --site-domain`):
// with the domain "localhost", a request whose Host is
// {label}.localhost[:port] is answered as the site whose object ID the
// label spells in base36, exactly as /sites/{site_id}/ answers it (see
// doc.go, "Sites by host name", for why the label is an object ID and
// never a site's name).

// siteHostPattern is the metrics route of answers by host name.
const siteHostPattern = "{site_host}/{path}"

// maxSiteDomain bounds Config.SiteDomain so that a label (at most 50
// characters) and the domain fit a DNS name of 253.
const maxSiteDomain = 200

const base36Digits = "0123456789abcdefghijklmnopqrstuvwxyz"

// SiteHostLabel is the DNS label that names a site under the gateway's
// site domain: the object ID in base36, as the Walrus Sites portals spell
// it (the base-x encoding of the ID's 32 bytes: one "0" per leading zero
// byte, then the rest as a big-endian number; at most 50 characters).
func SiteHostLabel(id chainlink.ID) string {
	zeros := 0
	for zeros < len(id) && id[zeros] == 0 {
		zeros++
	}
	digits := ""
	if zeros < len(id) {
		digits = new(big.Int).SetBytes(id[zeros:]).Text(36)
	}
	return strings.Repeat("0", zeros) + digits
}

// ParseSiteHostLabel is the inverse of SiteHostLabel; it ignores case
// (host names do) and refuses any label that is not the base36 form of a
// 32-byte ID.
func ParseSiteHostLabel(label string) (chainlink.ID, error) {
	var id chainlink.ID
	if label == "" || len(label) > 63 {
		return id, fmt.Errorf("site host label of %d characters", len(label))
	}
	label = asciiLower(label)
	if i := strings.IndexFunc(label, func(c rune) bool { return !strings.ContainsRune(base36Digits, c) }); i >= 0 {
		return id, fmt.Errorf("site host label %q: %q is no base36 digit", label, label[i])
	}
	zeros := len(label) - len(strings.TrimLeft(label, "0"))
	rest := label[zeros:]
	var b []byte
	if rest != "" {
		n, ok := new(big.Int).SetString(rest, 36)
		if !ok {
			return id, fmt.Errorf("site host label %q is not base36", label)
		}
		b = n.Bytes()
	}
	if zeros+len(b) != len(id) {
		return id, fmt.Errorf("site host label %q spells %d bytes, not an object ID's 32", label, zeros+len(b))
	}
	copy(id[zeros:], b)
	return id, nil
}

// checkSiteDomain validates and normalizes Config.SiteDomain: a DNS name
// of labels of letters, digits and inner hyphens, lower-cased, without
// its leading and trailing dots.
func checkSiteDomain(d string) (string, error) {
	d = asciiLower(strings.Trim(d, "."))
	if d == "" {
		return "", errors.New("gateway: empty site domain")
	}
	if len(d) > maxSiteDomain {
		return "", fmt.Errorf("gateway: site domain of %d characters, at most %d", len(d), maxSiteDomain)
	}
	for _, l := range strings.Split(d, ".") {
		ok := l != "" && len(l) <= 63 && l[0] != '-' && l[len(l)-1] != '-'
		for _, c := range l {
			ok = ok && (c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-')
		}
		if !ok {
			return "", fmt.Errorf("gateway: site domain %q: label %q is no DNS label", d, l)
		}
	}
	return d, nil
}

// siteOfHost says whether host (a request's Host, untrusted) is a name
// under the site domain and, if so, which site it names. Hosts not under
// the domain (the domain itself, IP addresses, other names) are the
// gateway's own: match false. Under it, anything but one base36 label and
// an optional numeric port is an error.
func (g *Gateway) siteOfHost(host string) (site chainlink.ID, match bool, err error) {
	domain := g.cfg.SiteDomain
	if domain == "" {
		return site, false, nil
	}
	name, port := host, ""
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		name, port = host[:i], host[i+1:]
		if port == "" {
			port = "-" // "name:" is as bad as a non-numeric port
		}
	}
	name = strings.TrimSuffix(name, ".")
	suffix := "." + domain
	if len(name) <= len(suffix) || asciiLower(name[len(name)-len(suffix):]) != suffix {
		return site, false, nil
	}
	label := name[:len(name)-len(suffix)]
	switch {
	case len(port) > 5 || strings.Trim(port, "0123456789") != "":
		return site, true, fmt.Errorf("host %.80q: the port is not a number", host)
	case strings.Contains(label, "."):
		return site, true, fmt.Errorf("host %.80q: want one label before %s, the site's base36 object ID", host, domain)
	case len(label) > 63:
		return site, true, fmt.Errorf("host %.80q: a label of %d characters, at most 63", host, len(label))
	}
	site, err = ParseSiteHostLabel(label)
	return site, true, err
}

// siteHostRoute answers a request whose Host names a site (ServeHTTP asks
// it before any route): every path of that host is the site's. It returns
// false when the Host is not under the site domain.
func (g *Gateway) siteHostRoute(w http.ResponseWriter, r *http.Request) bool {
	site, match, err := g.siteOfHost(r.Host)
	if !match {
		return false
	}
	if err != nil {
		writeError(w, badRequest("INVALID_SITE_HOST", "%v", err))
		return true
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		h := w.Header()
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
			h.Set("Access-Control-Allow-Headers", req)
		}
		h.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return true
	default:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		writeError(w, &apiError{code: http.StatusMethodNotAllowed, status: StatusInvalidArgument, reason: "METHOD_NOT_ALLOWED",
			message: fmt.Sprintf("method %s is not allowed on a site", r.Method)})
		return true
	}
	p := r.URL.Path
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	g.serveSitePath(w, r, site, "/", p)
	return true
}

// asciiLower lower-cases the ASCII letters of s only (strings.EqualFold
// would also match the Kelvin sign to a "k").
func asciiLower(s string) string {
	return strings.Map(func(c rune) rune {
		if c >= 'A' && c <= 'Z' {
			return c + 'a' - 'A'
		}
		return c
	}, s)
}
