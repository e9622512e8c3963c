// Package authproxy: Dex's "authproxy" connector configuration (field names, JSON keys and Go types as Dex
// has them).
package authproxy

// Config is the authenticating proxy connector's configuration.
type Config struct {
	UserIDHeader         string   `json:"userIDHeader"`
	UserHeader           string   `json:"userHeader"`
	UserNameHeader       string   `json:"userNameHeader"`
	EmailHeader          string   `json:"emailHeader"`
	GroupHeader          string   `json:"groupHeader"`
	GroupHeaderSeparator string   `json:"groupHeaderSeparator"`
	Groups               []string `json:"staticGroups"`
}
