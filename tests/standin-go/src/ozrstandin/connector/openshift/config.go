// Package openshift: Dex's "openshift" connector configuration (field names, JSON keys and Go types as Dex
// has them).
package openshift

// Config is the OpenShift connector's configuration.
type Config struct {
	Issuer       string   `json:"issuer"`
	ClientID     string   `json:"clientID"`
	ClientSecret string   `json:"clientSecret"`
	RedirectURI  string   `json:"redirectURI"`
	Groups       []string `json:"groups"`
	InsecureCA   bool     `json:"insecureCA"`
	RootCA       string   `json:"rootCA"`
}
