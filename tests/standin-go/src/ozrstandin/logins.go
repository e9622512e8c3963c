package main

// Logins through the connectors while the server runs, as Dex performs them, and the lines it logs for
// each (dexidp/dex v2.45.1 server/handlers.go): building the login URL checks the connector's redirectURI
// against Dex's own callback ("connector returned error when creating callback", connector_id, err); the
// callback exchanges the code at the provider's token endpoint with the connector's clientID and
// clientSecret (golang.org/x/oauth2's Exchange, "oidc: failed to get token: %v") and verifies the ID token
// (go-oidc's verifier, "oidc: failed to verify ID Token: %v"); either failure is logged as "failed to
// authenticate" with err, a success as "login successful" with connector_id (INFO).
//
// Environment (serve mode):
//
//	STANDIN_LOGINS          how many logins to try through each oidc connector once the server is up (0)
//	STANDIN_LOGIN_EVERY_MS  the pause between two rounds (200)
//	STANDIN_DEX_ISSUER      Dex's own issuer: a connector whose redirectURI is not <issuer>/callback
//	                        cannot start a login
//	STANDIN_OAUTH2_ERRORS   how the exchange's error reads: v0.3 (Debian's golang/oauth2 0.3.0 itself:
//	                        "oauth2: cannot fetch token: <status>\nResponse: <body>") or v0.35 (as
//	                        golang/oauth2 v0.35.0, which Dex v2.45.1 pins, prints the RFC 6749 error it
//	                        parses from that body: `oauth2: "<error>" "<description>" "<uri>"`)
//
// Second command: `standin-go logincorpus` prints every case in every line format (the corpus
// tests/data/go-login-corpus.jsonl).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc"
	log "github.com/sirupsen/logrus"
	"golang.org/x/oauth2"

	"ozrstandin/connector/oidc"
)

// Dex's messages.
const (
	msgAuthFailed     = "failed to authenticate"
	msgCallbackFailed = "connector returned error when creating callback"
	msgLoginOK        = "login successful"
)

// outcome is what one login logs.
type outcome struct {
	level  log.Level
	msg    string
	fields log.Fields
}

// retrieveText is the exchange error's text: the library's own (v0.3), or as golang/oauth2 v0.35's
// RetrieveError.Error() prints the RFC 6749 error it reads from the body (v0.35): `oauth2: %q`, then
// ` %q` for the description and the URI when present; without an error code, the status and the body.
func retrieveText(err error, form string) string {
	var re *oauth2.RetrieveError
	if form != "v0.35" || !errors.As(err, &re) {
		return err.Error()
	}
	var body struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
		ErrorURI         string `json:"error_uri"`
	}
	if json.Unmarshal(re.Body, &body) != nil || body.Error == "" {
		return fmt.Sprintf("oauth2: cannot fetch token: %v\nResponse: %s", re.Response.Status, re.Body)
	}
	s := fmt.Sprintf("oauth2: %q", body.Error)
	if body.ErrorDescription != "" {
		s += fmt.Sprintf(" %q", body.ErrorDescription)
	}
	if body.ErrorURI != "" {
		s += fmt.Sprintf(" %q", body.ErrorURI)
	}
	return s
}

// loginOnce logs a user in through one connector row (only oidc ones; nil for the others). `now` is the
// verifier's clock (nil: this host's).
func loginOnce(client *http.Client, row connectorRow, dexIssuer, form string, now func() time.Time) *outcome {
	c, err := decodeConfig(row.typ, row.config)
	o, ok := c.(*oidc.Config)
	if err != nil || !ok {
		return nil
	}
	fail := func(err error) *outcome {
		return &outcome{log.ErrorLevel, msgAuthFailed, log.Fields{"err": err.Error()}}
	}
	if dexIssuer != "" {
		if cb := dexIssuer + "/callback"; o.RedirectURI != cb {
			err := fmt.Errorf("expected callback URL %q did not match the URL in the config %q", cb, o.RedirectURI)
			return &outcome{log.ErrorLevel, msgCallbackFailed, log.Fields{"connector_id": row.id, "err": err.Error()}}
		}
	}
	ctx, cancel := context.WithTimeout(gooidc.ClientContext(context.Background(), client), 10*time.Second)
	defer cancel()
	prov, err := gooidc.NewProvider(ctx, o.Issuer)
	if err != nil {
		// The connector did not open: the start already said so.
		return nil
	}
	cfg := oauth2.Config{
		ClientID: o.ClientID, ClientSecret: o.ClientSecret, Endpoint: prov.Endpoint(),
		RedirectURL: o.RedirectURI, Scopes: []string{gooidc.ScopeOpenID, "email"},
	}
	if o.BasicAuthUnsupported != nil && *o.BasicAuthUnsupported {
		cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	}
	tok, err := cfg.Exchange(ctx, standinCode)
	if err != nil {
		return fail(fmt.Errorf("oidc: failed to get token: %s", retrieveText(err, form)))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return fail(errors.New("oidc: no id_token in token response"))
	}
	if _, err := prov.Verifier(&gooidc.Config{ClientID: o.ClientID, Now: now}).Verify(ctx, raw); err != nil {
		return fail(fmt.Errorf("oidc: failed to verify ID Token: %v", err))
	}
	return &outcome{log.InfoLevel, msgLoginOK, log.Fields{
		"connector_id": row.id, "username": "standin-user", "preferred_username": "standin-user",
		"email": "user@example.com", "groups": "[]",
	}}
}

// runLogins tries STANDIN_LOGINS rounds of logins through every oidc connector, logging each outcome.
func runLogins(logger *log.Logger, client *http.Client, rows []connectorRow) {
	n, err := strconv.Atoi(env("STANDIN_LOGINS", "0"))
	if err != nil || n < 0 {
		setup("STANDIN_LOGINS: want a number")
	}
	every, err := strconv.Atoi(env("STANDIN_LOGIN_EVERY_MS", "200"))
	if err != nil || every < 0 {
		setup("STANDIN_LOGIN_EVERY_MS: want a number of milliseconds")
	}
	form := env("STANDIN_OAUTH2_ERRORS", "v0.3")
	if form != "v0.3" && form != "v0.35" {
		setup("STANDIN_OAUTH2_ERRORS: v0.3 or v0.35")
	}
	dexIssuer := env("STANDIN_DEX_ISSUER", "")
	for i := 0; i < n; i++ {
		for _, row := range rows {
			if out := loginOnce(client, row, dexIssuer, form, nil); out != nil {
				withSource(logger, srcDex).WithFields(out.fields).Log(out.level, out.msg)
			}
		}
		time.Sleep(time.Duration(every) * time.Millisecond)
	}
}

// A login corpus record: one case's line (lines, for the older oauth2 error in NetBird's line format),
// and what a reader must make of it.
type loginRecord struct {
	Format      string   `json:"format"`
	Form        string   `json:"oauth2"`
	Case        string   `json:"case"`
	Cause       string   `json:"cause"`
	Code        string   `json:"code"`
	ConnectorID string   `json:"connector_id,omitempty"`
	Types       []string `json:"types"`
	ClientID    string   `json:"client_id,omitempty"`
	Line        string   `json:"line"`
}

// loginCase is one way a login goes, and the provider and connector that make it go so.
type loginCase struct {
	name, flavour, cause, code string
	clock                      time.Duration
	secret                     string
	redirect                   string
	clientIDInText             bool
}

// emitLine prints one outcome in `format`: the NetBird logrus formats (text, json, netbird), or Dex's own
// slog handlers (dex-json, dex-text: cmd/dex/logger.go), without the final newline.
func emitLine(format string, at time.Time, out *outcome) (string, error) {
	var buf bytes.Buffer
	switch format {
	case "dex-json", "dex-text":
		opts := &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				a.Value = slog.StringValue(at.UTC().Format(time.RFC3339Nano))
			}
			return a
		}}
		var h slog.Handler = slog.NewJSONHandler(&buf, opts)
		if format == "dex-text" {
			h = slog.NewTextHandler(&buf, opts)
		}
		lvl := slog.LevelError
		if out.level == log.InfoLevel {
			lvl = slog.LevelInfo
		}
		var args []any
		for _, k := range []string{"connector_id", "err", "username", "preferred_username", "email", "groups"} {
			if v, ok := out.fields[k]; ok {
				args = append(args, k, v)
			}
		}
		if out.msg == msgAuthFailed {
			args = append(args, "client_remote_addr", "10.0.0.7", "request_id", "8b1f7c9e-2d4a-4c55-9d1e-3a2b1c0d9e8f")
		}
		slog.New(h).Log(context.Background(), lvl, out.msg, args...)
	default:
		f, err := formatter(format, false)
		if err != nil {
			return "", err
		}
		l := log.New()
		l.SetOutput(&buf)
		l.SetFormatter(f)
		l.SetLevel(log.InfoLevel)
		withSource(l, srcDex).WithTime(at).WithFields(out.fields).Log(out.level, out.msg)
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

func runLoginCorpus() error {
	const issuer = "https://idp.example.com/realms/corp"
	const client = "netbird-dashboard-7f3a"
	const right = "right-secret-Zq9"
	pub, err := parsePublished(issuer)
	if err != nil {
		return err
	}
	disc, err := newDiscovery("127.0.0.1:0", []published{pub})
	if err != nil {
		return err
	}
	p, err := newProvider()
	if err != nil {
		return err
	}
	disc.provider = p
	p.clients = map[string]string{client: right}
	p.expired = map[string]bool{"expired-secret-1": true}
	httpClient := disc.client(false)
	cases := []loginCase{
		{name: "rfc-wrong-secret", flavour: "rfc", cause: "wrong_secret", code: "invalid_client", secret: "rotated-away"},
		{name: "entra-wrong-secret", flavour: "entra", cause: "wrong_secret", code: "AADSTS7000215", secret: "a-secret-id-not-value", clientIDInText: true},
		{name: "entra-expired-secret", flavour: "entra", cause: "expired_secret", code: "AADSTS7000222", secret: "expired-secret-1", clientIDInText: true},
		{name: "keycloak-wrong-secret", flavour: "keycloak", cause: "wrong_secret", code: "unauthorized_client", secret: "rotated-away"},
		{name: "callback-mismatch", flavour: "rfc", cause: "redirect_mismatch", code: "callback", secret: right, redirect: "https://old.example.com/oauth2/callback"},
		{name: "clock-behind", flavour: "rfc", cause: "clock_skew", code: "nbf", secret: right, clock: 10 * time.Minute},
		{name: "clock-ahead", flavour: "rfc", cause: "clock_skew", code: "exp", secret: right, clock: -10 * time.Minute},
		{name: "success", flavour: "rfc", cause: "ok", code: "", secret: right},
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	// One clock for the provider and the verifier: the corpus depends on nothing but the libraries.
	p.at = func() time.Time { return t0 }
	n := 0
	for _, c := range cases {
		p.flavour, p.clock = c.flavour, c.clock
		redirect := "https://vpn.example.com/oauth2/callback"
		if c.redirect != "" {
			redirect = c.redirect
		}
		cfg, _ := json.Marshal(map[string]string{"issuer": issuer, "clientID": client, "clientSecret": c.secret, "redirectURI": redirect})
		row := connectorRow{id: "corp-oidc-1", typ: "oidc", name: "Corp", config: cfg}
		forms := []string{"v0.3", "v0.35"}
		if c.code == "callback" || c.cause == "clock_skew" || c.cause == "ok" {
			forms = forms[:1]
		}
		for _, form := range forms {
			o := loginOnce(httpClient, row, "https://vpn.example.com/oauth2", form, func() time.Time { return t0 })
			if o == nil {
				return fmt.Errorf("%s: no outcome", c.name)
			}
			if want := c.cause == "ok"; want != (o.msg == msgLoginOK) {
				return fmt.Errorf("%s: the login went otherwise: %s %v", c.name, o.msg, o.fields)
			}
			for _, format := range []string{"text", "json", "netbird", "dex-json", "dex-text"} {
				line, err := emitLine(format, t0.Add(time.Duration(n)*time.Second), o)
				if err != nil {
					return err
				}
				rec := loginRecord{Format: format, Form: form, Case: c.name, Cause: c.cause, Code: c.code, Types: []string{"oidc", "openshift"}, Line: line}
				if o.msg != msgAuthFailed {
					rec.ConnectorID = row.id
				}
				if c.code == "callback" || c.cause == "ok" {
					rec.Types = []string{}
				}
				if c.clientIDInText {
					rec.ClientID = client
				}
				if err := enc.Encode(rec); err != nil {
					return err
				}
				n++
			}
		}
	}
	return nil
}
