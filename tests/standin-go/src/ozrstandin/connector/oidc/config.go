// Package oidc holds the configuration of Dex's "oidc" connector, with Dex's field names, JSON keys and Go
// types (dexidp/dex v2.45.1 connector/oidc, plus the discovery overrides master adds), written from the
// documented facts, so that encoding/json decodes a stored connector exactly as Dex does: keys matched
// case-insensitively, the last matching key winning, unknown keys ignored, and type errors naming
// "Config" and the JSON field path.
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
		FilterGroupClaims  FilterGroupClaims    `json:"filterGroupClaims"`
		ModifyGroupNames   ModifyGroupNames     `json:"modifyGroupNames"`
	} `json:"claimModifications"`
}

// ProviderDiscoveryOverrides replaces endpoints of the discovery document (the last three from Dex master).
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

// FilterGroupClaims keeps the groups a regular expression matches.
type FilterGroupClaims struct {
	GroupsFilter string `json:"groupsFilter"`
}

// ModifyGroupNames adds a prefix and a suffix to each group.
type ModifyGroupNames struct {
	Prefix string `json:"prefix"`
	Suffix string `json:"suffix"`
}
