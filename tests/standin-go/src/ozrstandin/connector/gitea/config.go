// Package gitea: Dex's "gitea" connector configuration (field names, JSON keys and Go types as Dex has them).
package gitea

// Config is the Gitea connector's configuration.
type Config struct {
	BaseURL       string `json:"baseURL"`
	ClientID      string `json:"clientID"`
	ClientSecret  string `json:"clientSecret"`
	RedirectURI   string `json:"redirectURI"`
	Orgs          []Org  `json:"orgs"`
	LoadAllGroups bool   `json:"loadAllGroups"`
	UseLoginAsID  bool   `json:"useLoginAsID"`
}

// Org is an organization and, optionally, some of its teams.
type Org struct {
	Name  string   `json:"name"`
	Teams []string `json:"teams,omitempty"`
}
