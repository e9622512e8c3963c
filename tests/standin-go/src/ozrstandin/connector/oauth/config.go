// Package oauth: Dex's "oauth" connector configuration (field names, JSON keys and Go types as Dex has them).
package oauth

// Config is the generic OAuth 2 connector's configuration.
type Config struct {
	ClientID           string   `json:"clientID"`
	ClientSecret       string   `json:"clientSecret"`
	RedirectURI        string   `json:"redirectURI"`
	TokenURL           string   `json:"tokenURL"`
	AuthorizationURL   string   `json:"authorizationURL"`
	UserInfoURL        string   `json:"userInfoURL"`
	Scopes             []string `json:"scopes"`
	RootCAs            []string `json:"rootCAs"`
	InsecureSkipVerify bool     `json:"insecureSkipVerify"`
	UserIDKey          string   `json:"userIDKey"`

	ClaimMapping struct {
		UserNameKey          string `json:"userNameKey"`
		PreferredUsernameKey string `json:"preferredUsernameKey"`
		GroupsKey            string `json:"groupsKey"`
		EmailKey             string `json:"emailKey"`
		EmailVerifiedKey     string `json:"emailVerifiedKey"`
	} `json:"claimMapping"`
}
