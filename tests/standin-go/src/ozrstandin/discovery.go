package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

const wellKnown = "/.well-known/openid-configuration"

// published is one issuer a provider publishes in its discovery document.
type published struct {
	issuer string
	scheme string // http or https
	addr   string // lower-case host:port, the port made explicit
	path   string // URL path, trailing slashes trimmed
}

func parsePublished(issuer string) (published, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return published{}, err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return published{}, fmt.Errorf("%q is not an http(s) URL", issuer)
	}
	return published{
		issuer: issuer,
		scheme: u.Scheme,
		addr:   hostPort(u.Scheme, u.Host),
		path:   strings.TrimRight(u.Path, "/"),
	}, nil
}

func hostPort(scheme, host string) string {
	host = strings.ToLower(host)
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	port := "80"
	if scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), port)
}

// discovery serves the providers' discovery documents on loopback and gives go-oidc an HTTP client that
// reaches them: connections to a published issuer's host:port go to the local listeners (plain or TLS,
// the TLS one with a certificate made at start for the published host names), every other address is
// dialled for real. The pairing of a request with a published issuer mirrors the Rust stand-in: trailing
// slashes trimmed on both sides; go-oidc then compares the stored issuer with the answer byte for byte.
type discovery struct {
	mu        sync.Mutex
	issuers   []published
	fixed     *string // corpus mode: answer this issuer to every request
	plainAddr string
	tlsAddr   string
	pool      *x509.CertPool
	routes    map[string]string
	// The provider behind the published issuers (token endpoint, keys); nil in corpus mode.
	provider *provider
}

func newDiscovery(listen string, issuers []published) (*discovery, error) {
	d := &discovery{issuers: issuers, routes: map[string]string{}}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("discovery listener: %v", err)
	}
	d.plainAddr = ln.Addr().String()
	go (&http.Server{Handler: d, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)

	var names []string
	for _, p := range issuers {
		if p.scheme == "https" {
			host, _, _ := net.SplitHostPort(p.addr)
			names = append(names, host)
		}
	}
	if len(names) > 0 {
		cert, pool, err := selfSigned(names)
		if err != nil {
			return nil, err
		}
		tln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
		if err != nil {
			return nil, fmt.Errorf("discovery TLS listener: %v", err)
		}
		d.tlsAddr, d.pool = tln.Addr().String(), pool
		go (&http.Server{Handler: d, ReadHeaderTimeout: 10 * time.Second}).Serve(tln)
	}
	for _, p := range issuers {
		if p.scheme == "https" {
			d.routes[p.addr] = d.tlsAddr
		} else {
			d.routes[p.addr] = d.plainAddr
		}
	}
	return d, nil
}

// client is the HTTP client go-oidc gets through its context (Dex hands it one the same way).
func (d *discovery) client(routeAll bool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d.mu.Lock()
			to, ok := d.routes[strings.ToLower(addr)]
			d.mu.Unlock()
			if ok {
				addr = to
			} else if routeAll {
				addr = d.plainAddr
			}
			return dialer.DialContext(ctx, network, addr)
		},
		TLSClientConfig:     &tls.Config{RootCAs: d.pool},
		TLSHandshakeTimeout: 5 * time.Second,
		MaxIdleConnsPerHost: 4,
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func (d *discovery) lookup(r *http.Request) (string, bool) {
	return d.lookupUnder(r, wellKnown)
}

// lookupUnder is the published issuer whose path `suffix` (the discovery document, the token endpoint,
// the keys) the request asks for.
func (d *discovery) lookupUnder(r *http.Request, suffix string) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fixed != nil {
		return *d.fixed, true
	}
	if !strings.HasSuffix(r.URL.Path, suffix) {
		return "", false
	}
	prefix := strings.TrimRight(strings.TrimSuffix(r.URL.Path, suffix), "/")
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	addr := hostPort(scheme, r.Host)
	for _, p := range d.issuers {
		if p.addr == addr && p.path == prefix {
			return p.issuer, true
		}
	}
	for _, p := range d.issuers {
		if p.path == prefix {
			return p.issuer, true
		}
	}
	return "", false
}

func (d *discovery) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if d.serveProvider(w, r) {
		return
	}
	issuer, ok := d.lookup(r)
	if !ok || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	base := strings.TrimSuffix(issuer, "/")
	doc, err := json.Marshal(map[string]interface{}{
		"issuer":                                issuer,
		"authorization_endpoint":                base + "/auth",
		"token_endpoint":                        base + "/token",
		"jwks_uri":                              base + "/keys",
		"userinfo_endpoint":                     base + "/userinfo",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(doc)
}

// setFixed makes every request answer issuer (the corpus generator's mode).
func (d *discovery) setFixed(issuer string) {
	d.mu.Lock()
	d.fixed = &issuer
	d.mu.Unlock()
}

func selfSigned(names []string) (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "standin-go discovery"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
