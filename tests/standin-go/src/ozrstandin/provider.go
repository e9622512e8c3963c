package main

// The identity provider the connectors talk to at login time, served on the discovery listeners beside
// the discovery documents (whose token_endpoint and jwks_uri point here): an OAuth 2.0 token endpoint as
// RFC 6749 says (client authentication by HTTP Basic or the request body, §2.3.1; errors as §5.2), and
// the keys its ID tokens are signed with (RS256, go-jose v2).
//
//	POST <issuer>/token   grant_type=authorization_code (code "standin-code": an access token and an ID
//	                      token for the client), client_credentials (an access token), anything else
//	                      unsupported_grant_type; a client that does not authenticate gets invalid_client
//	                      (401, with WWW-Authenticate when it tried HTTP Basic)
//	GET  <issuer>/keys    the JSON Web Key Set
//
// Environment:
//
//	STANDIN_CLIENTS               the registered clients, a JSON object {"client_id": "secret", ...}
//	STANDIN_EXPIRED_SECRETS       secrets that were right but expired, a JSON array (the entra flavour says so)
//	STANDIN_PROVIDER              how a refused client is answered: rfc (invalid_client, the default),
//	                              entra (invalid_client with AADSTS7000215, or AADSTS7000222 for an
//	                              expired secret), keycloak (unauthorized_client "Invalid client or Invalid
//	                              client credentials")
//	STANDIN_PROVIDER_CLOCK_S      seconds the provider's clock is ahead of this host's (its tokens' iat,
//	                              nbf and exp); negative when behind
//	STANDIN_NO_CLIENT_CREDENTIALS 1: the client_credentials grant is not allowed (unauthorized_client, 400,
//	                              for a client that authenticated)

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	jose "gopkg.in/square/go-jose.v2"
)

// The code the provider's authorization endpoint would have handed the browser.
const standinCode = "standin-code"

type provider struct {
	clients             map[string]string
	expired             map[string]bool
	flavour             string
	clock               time.Duration
	noClientCredentials bool
	// The host's clock (nil: time.Now), which the provider's is `clock` ahead of.
	at func() time.Time

	once sync.Once
	key  *rsa.PrivateKey
	err  error
}

func newProvider() (*provider, error) {
	p := &provider{
		clients: map[string]string{},
		expired: map[string]bool{},
		flavour: env("STANDIN_PROVIDER", "rfc"),
	}
	if js := env("STANDIN_CLIENTS", ""); js != "" {
		if err := json.Unmarshal([]byte(js), &p.clients); err != nil {
			return nil, fmt.Errorf("STANDIN_CLIENTS: %v", err)
		}
	}
	if js := env("STANDIN_EXPIRED_SECRETS", ""); js != "" {
		var list []string
		if err := json.Unmarshal([]byte(js), &list); err != nil {
			return nil, fmt.Errorf("STANDIN_EXPIRED_SECRETS: %v", err)
		}
		for _, s := range list {
			p.expired[s] = true
		}
	}
	switch p.flavour {
	case "rfc", "entra", "keycloak":
	default:
		return nil, fmt.Errorf("unknown STANDIN_PROVIDER %q (rfc, entra or keycloak)", p.flavour)
	}
	if s := env("STANDIN_PROVIDER_CLOCK_S", "0"); s != "0" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("STANDIN_PROVIDER_CLOCK_S: %v", err)
		}
		p.clock = time.Duration(n) * time.Second
	}
	p.noClientCredentials = env("STANDIN_NO_CLIENT_CREDENTIALS", "0") == "1"
	return p, nil
}

// signingKey is made once, when the first token or key set is asked for.
func (p *provider) signingKey() (*rsa.PrivateKey, error) {
	p.once.Do(func() { p.key, p.err = rsa.GenerateKey(rand.Reader, 2048) })
	return p.key, p.err
}

func (p *provider) now() time.Time {
	if p.at != nil {
		return p.at().Add(p.clock)
	}
	return time.Now().Add(p.clock)
}

// oauthError answers an RFC 6749 §5.2 error.
func oauthError(w http.ResponseWriter, status int, body map[string]interface{}) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

// refuse answers a client that did not authenticate, in the provider's own words.
func (p *provider) refuse(w http.ResponseWriter, basic bool, id, secret string) {
	if basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="standin"`)
	}
	switch p.flavour {
	case "entra":
		code, text := 7000215, fmt.Sprintf("AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", id)
		if p.expired[secret] {
			code, text = 7000222, fmt.Sprintf("AADSTS7000222: The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.", id)
		}
		oauthError(w, http.StatusUnauthorized, map[string]interface{}{
			"error": "invalid_client", "error_description": text + "\r\nTrace ID: 00000000-0000-0000-0000-000000000000\r\nTimestamp: 2026-12-01 10:00:00Z",
			"error_codes": []int{code}, "error_uri": "https://login.microsoftonline.com/error?code=" + strconv.Itoa(code),
		})
	case "keycloak":
		oauthError(w, http.StatusUnauthorized, map[string]interface{}{
			"error": "unauthorized_client", "error_description": "Invalid client or Invalid client credentials",
		})
	default:
		oauthError(w, http.StatusUnauthorized, map[string]interface{}{
			"error": "invalid_client", "error_description": "Client authentication failed.",
		})
	}
}

// token is the token endpoint of the provider whose issuer is `issuer`.
func (p *provider) token(w http.ResponseWriter, r *http.Request, issuer string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		oauthError(w, http.StatusMethodNotAllowed, map[string]interface{}{"error": "invalid_request", "error_description": "POST only"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, map[string]interface{}{"error": "invalid_request", "error_description": "the body is not a form"})
		return
	}
	// §2.3.1: HTTP Basic with the form-urlencoded id and secret, or both in the body; never both ways.
	id, secret, basic := r.BasicAuth()
	if basic {
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil || r.PostForm.Get("client_secret") != "" {
			oauthError(w, http.StatusBadRequest, map[string]interface{}{"error": "invalid_request", "error_description": "more than one way of client authentication"})
			return
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if want, ok := p.clients[id]; !ok || secret == "" || secret != want || p.expired[secret] {
		p.refuse(w, basic, id, secret)
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "client_credentials":
		if p.noClientCredentials {
			oauthError(w, http.StatusBadRequest, map[string]interface{}{"error": "unauthorized_client", "error_description": "the client may not use this grant type"})
			return
		}
		p.issue(w, issuer, id, false)
	case "authorization_code":
		if r.PostForm.Get("code") != standinCode {
			oauthError(w, http.StatusBadRequest, map[string]interface{}{"error": "invalid_grant", "error_description": "the code is invalid or expired"})
			return
		}
		p.issue(w, issuer, id, true)
	default:
		oauthError(w, http.StatusBadRequest, map[string]interface{}{"error": "unsupported_grant_type"})
	}
}

// issue answers a token (and, for a login, an ID token signed for the client).
func (p *provider) issue(w http.ResponseWriter, issuer, client string, login bool) {
	out := map[string]interface{}{"access_token": "standin-access-token", "token_type": "Bearer", "expires_in": 300}
	if login {
		key, err := p.signingKey()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "standin"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		now := p.now()
		claims, _ := json.Marshal(map[string]interface{}{
			"iss": issuer, "sub": "standin-user", "aud": client, "email": "user@example.com", "email_verified": true,
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		})
		jws, err := signer.Sign(claims)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		raw, err := jws.CompactSerialize()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out["id_token"] = raw
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	json.NewEncoder(w).Encode(out)
}

// keys is the key set the ID tokens are signed with.
func (p *provider) keys(w http.ResponseWriter) {
	key, err := p.signingKey()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "standin", Algorithm: "RS256", Use: "sig"}}}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(set)
}

// serveProvider answers the provider's own paths under a published issuer; false when the path is none.
func (d *discovery) serveProvider(w http.ResponseWriter, r *http.Request) bool {
	for _, suffix := range []string{"/token", "/keys"} {
		if !strings.HasSuffix(r.URL.Path, suffix) {
			continue
		}
		issuer, ok := d.lookupUnder(r, suffix)
		if !ok || d.provider == nil {
			return false
		}
		if suffix == "/token" {
			d.provider.token(w, r, issuer)
		} else {
			d.provider.keys(w)
		}
		return true
	}
	return false
}
