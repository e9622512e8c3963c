// Package gitlab: Dex's "gitlab" connector configuration (field names, JSON keys and Go types as Dex has
// them; inheritedGroups from Dex master).
package gitlab

// Config is the GitLab connector's configuration. RootCAData is []byte: base64 in JSON.
type Config struct {
	BaseURL             string   `json:"baseURL"`
	ClientID            string   `json:"clientID"`
	ClientSecret        string   `json:"clientSecret"`
	RedirectURI         string   `json:"redirectURI"`
	Groups              []string `json:"groups"`
	UseLoginAsID        bool     `json:"useLoginAsID"`
	GetGroupsPermission bool     `json:"getGroupsPermission"`
	RootCAData          []byte   `json:"rootCAData,omitempty"`
	InheritedGroups     bool     `json:"inheritedGroups"`
}
