// Package linkedin: Dex's "linkedin" connector configuration (field names, JSON keys and Go types as Dex
// has them).
package linkedin

// Config is the LinkedIn connector's configuration.
type Config struct {
	ClientID     string `json:"clientID"`
	ClientSecret string `json:"clientSecret"`
	RedirectURI  string `json:"redirectURI"`
}
