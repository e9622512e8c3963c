// Package google: Dex's "google" connector configuration (field names, JSON keys and Go types as Dex has
// them; AdminEmail and DomainToAdminEmail have no JSON tag, so their keys are the Go names).
package google

// Config is the Google connector's configuration.
type Config struct {
	ClientID                       string   `json:"clientID"`
	ClientSecret                   string   `json:"clientSecret"`
	RedirectURI                    string   `json:"redirectURI"`
	Scopes                         []string `json:"scopes"`
	HostedDomains                  []string `json:"hostedDomains"`
	Groups                         []string `json:"groups"`
	ServiceAccountFilePath         string   `json:"serviceAccountFilePath"`
	AdminEmail                     string
	DomainToAdminEmail             map[string]string
	FetchTransitiveGroupMembership bool    `json:"fetchTransitiveGroupMembership"`
	PromptType                     *string `json:"promptType"`
}
