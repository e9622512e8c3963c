// Package oidc holds the configuration of Dex's "oidc" connector, shaped like Dex's own oidc.Config so that
// encoding/json decodes a stored connector exactly as Dex does: keys matched case-insensitively, the last
// matching key winning, unknown keys ignored, and type errors naming "oidc.Config" and the JSON field.
//
// Only the shape matters here; the stand-in uses Issuer and IssuerAlias.
package oidc

// Config is the JSON configuration of an OIDC connector (the `config` column of a `connector` row).
type Config struct {
	Issuer       string `json:"issuer"`
	IssuerAlias  string `json:"issuerAlias"`
	ClientID     string `json:"clientID"`
	ClientSecret string `json:"clientSecret"`
	RedirectURI  string `json:"redirectURI"`

	ProviderDiscoveryOverrides ProviderDiscoveryOverrides `json:"providerDiscoveryOverrides"`

	BasicAuthUnsupported      *bool    `json:"basicAuthUnsupported"`
	Scopes                    []string `json:"scopes"`
	HostedDomains             []string `json:"hostedDomains"`
	RootCAs                   []string `json:"rootCAs"`
	InsecureSkipEmailVerified bool     `json:"insecureSkipEmailVerified"`
	InsecureEnableGroups      bool     `json:"insecureEnableGroups"`
	AllowedGroups             []string `json:"allowedGroups"`
	AcrValues                 []string `json:"acrValues"`
	InsecureSkipVerify        bool     `json:"insecureSkipVerify"`
	GetUserInfo               bool     `json:"getUserInfo"`
	UserIDKey                 string   `json:"userIDKey"`
	UserNameKey               string   `json:"userNameKey"`
	PromptType                *string  `json:"promptType"`
	PKCEChallenge             string   `json:"pkceChallenge"`
	OverrideClaimMapping      bool     `json:"overrideClaimMapping"`

	ClaimMapping struct {
		PreferredUsernameKey string `json:"preferred_username"`
		EmailKey             string `json:"email"`
		GroupsKey            string `json:"groups"`
	} `json:"claimMapping"`

	ClaimMutations struct {
		NewGroupFromClaims []NewGroupFromClaims `json:"newGroupFromClaims"`
		FilterGroupClaims  struct {
			GroupsFilter string `json:"groupsFilter"`
		} `json:"filterGroupClaims"`
		ModifyGroupNames struct {
			Prefix string `json:"prefix"`
			Suffix string `json:"suffix"`
		} `json:"modifyGroupNames"`
	} `json:"claimModifications"`
}

// ProviderDiscoveryOverrides replaces endpoints of the discovery document.
type ProviderDiscoveryOverrides struct {
	TokenURL      string `json:"tokenURL"`
	AuthURL       string `json:"authURL"`
	JWKSURL       string `json:"jwksURL"`
	UserInfoURL   string `json:"userInfoURL"`
	DeviceAuthURL string `json:"deviceAuthURL"`
	EndSessionURL string `json:"endSessionURL"`
}

// NewGroupFromClaims builds a group from claim values.
type NewGroupFromClaims struct {
	Claims         []string `json:"claims"`
	Delimiter      string   `json:"delimiter"`
	ClearDelimiter bool     `json:"clearDelimiter"`
	Prefix         string   `json:"prefix"`
}
