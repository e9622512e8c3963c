package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	gooidc "github.com/coreos/go-oidc"
	log "github.com/sirupsen/logrus"
)

// A corpus record: one real go-oidc error, wrapped as NetBird/Dex wrap it, printed by a real logrus
// formatter. Got is nil when the stored issuer never reached a comparison (ParseError: Go's url.Parse
// rejected it inside http.NewRequest, so the line carries that error instead).
type record struct {
	Format      string  `json:"format"`
	Level       string  `json:"level"`
	Millis      bool    `json:"millis"`
	Kind        string  `json:"kind"`
	ConnectorID string  `json:"connector_id"`
	Expected    string  `json:"expected"`
	Got         *string `json:"got"`
	ParseError  bool    `json:"parse_error,omitempty"`
	Line        string  `json:"line"`
}

// Hosts whose https issuers reach the corpus's TLS listener; every other address goes to the plain one.
var corpusTLSHosts = []string{
	"https://oauth.id.jumpcloud.com/", "https://login.microsoftonline.com/", "https://accounts.google.com/",
	"https://idp.example.com/", "https://auth.example.org/", "https://127.0.0.1/",
}

var corpusBases = []string{
	"https://oauth.id.jumpcloud.com",
	"https://login.microsoftonline.com/6f1c2a3b-0d4e-4f5a-9b8c-7d6e5f4a3b2c/v2.0",
	"https://accounts.google.com",
	"https://idp.example.com/realms/corp",
	"https://auth.example.org/application/o/netbird",
	"http://127.0.0.1:5556/jumpcloud",
	"http://keycloak.internal:8080/realms/Main",
	"https://127.0.0.1/dex",
}

func pick(r *rand.Rand, xs ...string) string { return xs[r.Intn(len(xs))] }

// insertInPath puts s into the path of base: a segment of its own, glued to the last one, or in the middle.
func insertInPath(r *rand.Rand, base, s string) string {
	switch r.Intn(3) {
	case 0:
		return base + "/" + s
	case 1:
		if u, err := url.Parse(base); err == nil && u.Path == "" {
			return base + "/" + s
		}
		return base + s
	default:
		return base + "/" + s + "/tenant"
	}
}

func slashVariant(r *rand.Rand, exp string) string {
	if strings.HasSuffix(exp, "/") && r.Intn(2) == 0 {
		return strings.TrimSuffix(exp, "/")
	}
	return exp + "/"
}

func randText(r *rand.Rand, n int, alphabet []string) string {
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(alphabet[r.Intn(len(alphabet))])
	}
	return b.String()
}

type generator struct {
	kind string
	gen  func(r *rand.Rand, base string) (expected, published string)
}

var nonASCII = []string{"café", "bücher", "日本語", "Ωμέγα", "עברית", "naïve", "e\u0301", "Straße", "Ĳssel", "ﬁ", "한국어", "\u0645\u0631\u062d\u0628\u0627"}
var separators = []string{"\u2028", "\u2029", "\u200b", "\ufeff", "\u00a0", "\u00ad", "\u202e", "\u200d", "\u0085", "\u3000", "\U000e0001"}
var emoji = []string{"😀", "🫠", "👩\u200d💻", "🇩🇪", "👍🏽", "🦀", "🪿", "❤️", "🧑\u200d🚀", "🥲"}
var controls = []string{"\x00", "\x01", "\x07", "\x08", "\t", "\n", "\v", "\f", "\r", "\x1b", "\x1b[31m", "\x7f", "\u0080", "\u009b"}

var longCount int

var generators = []generator{
	{"slash-added", func(r *rand.Rand, b string) (string, string) { return b, b + "/" }},
	{"slash-removed", func(r *rand.Rand, b string) (string, string) { return b + "/", b }},
	{"double-slash", func(r *rand.Rand, b string) (string, string) { return b + "//", b + "/" }},
	{"host-case", func(r *rand.Rand, b string) (string, string) {
		u, _ := url.Parse(b)
		return u.Scheme + "://" + strings.ToUpper(u.Host) + u.Path, b
	}},
	{"scheme", func(r *rand.Rand, b string) (string, string) {
		if strings.HasPrefix(b, "https://") {
			return "http://" + strings.TrimPrefix(b, "https://"), b
		}
		return b, "https://" + strings.TrimPrefix(b, "http://")
	}},
	{"quote", func(r *rand.Rand, b string) (string, string) {
		e := insertInPath(r, b, pick(r, `a"b`, `"`, `""`, `\"`, `'`, "`x`", `"quoted"`))
		return e, slashVariant(r, e)
	}},
	{"backslash", func(r *rand.Rand, b string) (string, string) {
		e := insertInPath(r, b, pick(r, `\`, `\\`, `realm\corp`, `\u2028`, `\x00`, `\n`, `C:\dex\`))
		return e, slashVariant(r, e)
	}},
	{"non-ascii", func(r *rand.Rand, b string) (string, string) {
		e := insertInPath(r, b, pick(r, nonASCII...))
		return e, slashVariant(r, e)
	}},
	{"separator", func(r *rand.Rand, b string) (string, string) {
		e := insertInPath(r, b, "x"+pick(r, separators...)+"y")
		if r.Intn(3) == 0 {
			return b, b + pick(r, separators...)
		}
		return e, slashVariant(r, e)
	}},
	{"percent", func(r *rand.Rand, b string) (string, string) {
		e := insertInPath(r, b, pick(r, "%41", "%2F", "%25", "%E2%80%A8", "100%25", "%7e", "a%20b", "%C3%A9"))
		return e, slashVariant(r, e)
	}},
	{"percent-got", func(r *rand.Rand, b string) (string, string) {
		return b, b + "/" + pick(r, "%", "%zz", "%v%s%%", "100%", "%!(EXTRA string)", "%x", "%%%")
	}},
	{"space", func(r *rand.Rand, b string) (string, string) {
		switch r.Intn(3) {
		case 0:
			return b + " ", b
		case 1:
			e := insertInPath(r, b, pick(r, "a b", "  ", "tenant one"))
			return e, slashVariant(r, e)
		}
		return b, b + "/ "
	}},
	{"emoji", func(r *rand.Rand, b string) (string, string) {
		e := insertInPath(r, b, pick(r, emoji...))
		return e, slashVariant(r, e)
	}},
	// Emoji newer than Unicode 13 (Go 1.19's tables): %q escapes them here, Go 1.21+ (Unicode 15) does not.
	{"emoji-unicode14+", func(r *rand.Rand, b string) (string, string) {
		e := insertInPath(r, b, pick(r, "🫠", "🪿", "🫨", "🩷", "🫶🏽"))
		return e, slashVariant(r, e)
	}},
	{"control-got", func(r *rand.Rand, b string) (string, string) {
		return b, insertInPath(r, b, pick(r, controls...))
	}},
	{"html", func(r *rand.Rand, b string) (string, string) {
		e := insertInPath(r, b, pick(r, "<x>", "&amp;", "a&b", "<script>alert(1)</script>", "&lt;"))
		return e, slashVariant(r, e)
	}},
	{"injection", func(r *rand.Rand, b string) (string, string) {
		fake := pick(r,
			"\n2026-12-01T07:26:38Z INFO management/internals/server/server.go:202: "+readyMsg,
			`" level=info msg="`+readyMsg,
			`","level":"info","msg":"`+readyMsg+`","time":"2026-12-01T07:26:38Z"}`,
			"\r\x1b[2K"+readyMsg,
			" got \"x\" expected \"y\"",
		)
		if r.Intn(2) == 0 {
			return b, b + fake
		}
		e := insertInPath(r, b, strings.ReplaceAll(fake, "\n", ""))
		e = strings.Map(func(c rune) rune {
			if c < 0x20 || c == 0x7f {
				return -1
			}
			return c
		}, e)
		return e, slashVariant(r, e)
	}},
	{"long", func(r *rand.Rand, b string) (string, string) {
		alpha := []string{"a", "b", "c", "7", "-", "_", "~", ".", "\"", "\\", "é", "😀", "\u2028", " ", "%41", "<", "&"}
		// In turn: a few KiB; over 8 KiB (the line, holding it twice, over 16 KiB); over 16 KiB alone.
		longCount++
		n := 1000 + r.Intn(2000)
		switch longCount % 3 {
		case 1:
			n = 8400 + r.Intn(400)
		case 2:
			n = 16500 + r.Intn(600)
		}
		e := b + "/" + randText(r, n, alpha)
		return e, slashVariant(r, e)
	}},
	{"empty-got", func(r *rand.Rand, b string) (string, string) { return b, "" }},
	{"other-host", func(r *rand.Rand, b string) (string, string) { return b, pick(r, corpusBases...) + "/" }},
	{"invalid-utf8-got", func(r *rand.Rand, b string) (string, string) {
		return b, b + "/" + pick(r, "\xff", "\xc3", "\xed\xa0\x80", "a\xfe\xffb")
	}},
	{"query-fragment", func(r *rand.Rand, b string) (string, string) {
		return b + pick(r, "?x=1", "#frag", "/?", "#", "?a=%22b%22&c=d"), b + "/"
	}},
	{"userinfo-port", func(r *rand.Rand, b string) (string, string) {
		u, _ := url.Parse(b)
		switch r.Intn(3) {
		case 0:
			return u.Scheme + "://user:p%40ss@" + u.Host + u.Path, b
		case 1:
			if u.Port() == "" {
				def := "80"
				if u.Scheme == "https" {
					def = "443"
				}
				return u.Scheme + "://" + u.Host + ":" + def + u.Path, b
			}
			return b, b + "/"
		}
		return "http://[::1]:5556/dex", "http://[::1]:5556/dex/"
	}},
	{"idn-host", func(r *rand.Rand, b string) (string, string) {
		e := "http://" + pick(r, "bücher.example", "例え.テスト", "xn--bcher-kva.example", "ОАУТ.пример") + "/realms/" + pick(r, "a", "b")
		return e, slashVariant(r, e)
	}},
	// Stored issuers Go's url.Parse rejects: http.NewRequest fails before any fetch.
	{"parse-control", func(r *rand.Rand, b string) (string, string) {
		return insertInPath(r, b, pick(r, "\t", "\n", "\r", "\x00", "\x7f", "\x1b", "a\tb")) + pick(r, "", "\n"), b + "/"
	}},
	{"parse-escape", func(r *rand.Rand, b string) (string, string) {
		return insertInPath(r, b, pick(r, "100%zz", "%", "%g1", "%2", "%%", "%u2028", "%s")), b + "/"
	}},
	{"parse-host", func(r *rand.Rand, b string) (string, string) {
		return pick(r,
			"https://exa mple.com/",
			"http://[::1/dex",
			"http://host:port/",
			"https://oauth.id.jumpcloud.com:443a/",
			"http://%zz/",
			" https://oauth.id.jumpcloud.com",
			"https://user%zz@idp.example.com/",
			"http://a b/",
		), b + "/"
	}},
}

func runCorpus(args []string) error {
	fs := flag.NewFlagSet("corpus", flag.ContinueOnError)
	count := fs.Int("count", 300, "number of records")
	seed := fs.Int64("seed", 1, "random seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var tlsHosts []published
	for _, s := range corpusTLSHosts {
		p, err := parsePublished(s)
		if err != nil {
			return err
		}
		tlsHosts = append(tlsHosts, p)
	}
	disc, err := newDiscovery("127.0.0.1:0", tlsHosts)
	if err != nil {
		return err
	}
	client := disc.client(true)
	r := rand.New(rand.NewSource(*seed))
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	t0 := time.Date(2026, 12, 1, 7, 26, 37, 0, time.UTC)
	dropped := 0
	for i, tries := 0, 0; i < *count; tries++ {
		if tries > *count*4 {
			return fmt.Errorf("too many dropped cases (%d)", dropped)
		}
		g := generators[tries%len(generators)]
		base := pick(r, corpusBases...)
		expected, pub := g.gen(r, base)
		disc.setFixed(pub)
		ctx, cancel := context.WithCancel(gooidc.ClientContext(context.Background(), client))
		_, err := gooidc.NewProvider(ctx, expected)
		cancel()
		rec := record{
			Format:      pick(r, "text", "json", "netbird"),
			Level:       pick(r, "fatal", "error"),
			Millis:      r.Intn(3) == 0,
			Kind:        g.kind,
			ConnectorID: xid(r),
			Expected:    expected,
		}
		var uerr *url.Error
		switch {
		case err == nil:
			fmt.Fprintf(os.Stderr, "standin-go corpus: dropped %s case: the issuers are equal\n", g.kind)
			dropped++
			continue
		case isMismatch(err):
			got := roundTrip(pub)
			rec.Got = &got
		case errors.As(err, &uerr) && uerr.Op == "parse":
			rec.ParseError = true
		default:
			// A transport error (addresses, ports): not part of this corpus.
			fmt.Fprintf(os.Stderr, "standin-go corpus: dropped %s case: %v\n", g.kind, err)
			dropped++
			continue
		}
		chain := "failed to open connector: failed to create connector " + rec.ConnectorID + ": failed to get provider: " + err.Error()
		at := t0.Add(time.Duration(i) * 1237 * time.Millisecond)
		line, lerr := formatLine(rec, chain, at)
		if lerr != nil {
			return lerr
		}
		if !utf8.ValidString(line) || strings.ContainsAny(line, "\n") {
			return fmt.Errorf("record %d: line is not one valid UTF-8 line: %q", i, line)
		}
		rec.Line = line
		if err := enc.Encode(rec); err != nil {
			return err
		}
		i++
	}
	if dropped > 0 {
		fmt.Fprintf(os.Stderr, "standin-go corpus: %d cases dropped\n", dropped)
	}
	return nil
}

// formatLine prints one record's line through the real logrus formatter, without the final newline.
func formatLine(rec record, chain string, at time.Time) (string, error) {
	f, err := formatter(rec.Format, rec.Millis)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	l := log.New()
	l.SetOutput(&buf)
	l.SetFormatter(f)
	l.SetLevel(log.InfoLevel)
	if rec.Level == "fatal" {
		msg := netbirdPrefix + "server: Failed to open connector " + rec.ConnectorID + ": " + chain
		// Entry.Log at FatalLevel prints exactly what Fatal prints, without exiting.
		withSource(l, srcFatal).WithTime(at).Log(log.FatalLevel, msg)
	} else {
		withSource(l, srcDex).WithTime(at).WithFields(log.Fields{"id": rec.ConnectorID, "err": chain}).Log(log.ErrorLevel, "server: Failed to open connector")
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// roundTrip is what go-oidc reads back from the discovery document the server wrote for s.
func roundTrip(s string) string {
	b, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}

// xid makes a 20-character id shaped like the bare xids NetBird gives generic OIDC connectors.
func xid(r *rand.Rand) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuv"
	b := make([]byte, 20)
	for i := range b {
		b[i] = alphabet[r.Intn(len(alphabet))]
	}
	return string(b)
}
