// Package atlassiancrowd: Dex's "atlassian-crowd" connector configuration (field names, JSON keys and Go
// types as Dex has them).
package atlassiancrowd

// Config is the Atlassian Crowd connector's configuration.
type Config struct {
	BaseURL                string   `json:"baseURL"`
	ClientID               string   `json:"clientID"`
	ClientSecret           string   `json:"clientSecret"`
	Groups                 []string `json:"groups"`
	PreferredUsernameField string   `json:"preferredUsernameField"`
	UsernamePrompt         string   `json:"usernamePrompt"`
}
