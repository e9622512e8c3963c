// Package bitbucketcloud: Dex's "bitbucket-cloud" connector configuration (field names, JSON keys and Go
// types as Dex has them; getWorkspacePermissions from Dex master).
package bitbucketcloud

// Config is the Bitbucket Cloud connector's configuration.
type Config struct {
	ClientID                string   `json:"clientID"`
	ClientSecret            string   `json:"clientSecret"`
	RedirectURI             string   `json:"redirectURI"`
	Teams                   []string `json:"teams"`
	IncludeTeamGroups       bool     `json:"includeTeamGroups,omitempty"`
	GetWorkspacePermissions bool     `json:"getWorkspacePermissions,omitempty"`
}
