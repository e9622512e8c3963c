// Package github: Dex's "github" connector configuration (field names, JSON keys and Go types as Dex has them).
package github

// Config is the GitHub connector's configuration.
type Config struct {
	ClientID             string `json:"clientID"`
	ClientSecret         string `json:"clientSecret"`
	RedirectURI          string `json:"redirectURI"`
	Org                  string `json:"org"`
	Orgs                 []Org  `json:"orgs"`
	HostName             string `json:"hostName"`
	RootCA               string `json:"rootCA"`
	TeamNameField        string `json:"teamNameField"`
	LoadAllGroups        bool   `json:"loadAllGroups"`
	UseLoginAsID         bool   `json:"useLoginAsID"`
	PreferredEmailDomain string `json:"preferredEmailDomain"`
}

// Org is an organization and, optionally, some of its teams.
type Org struct {
	Name  string   `json:"name"`
	Teams []string `json:"teams,omitempty"`
}
