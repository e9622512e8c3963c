// Package microsoft: Dex's "microsoft" connector configuration (field names, JSON keys and Go types as Dex
// has them; clientAssertion, batchGroupLookups and preferredUsernameField from Dex master).
package microsoft

// GroupNameFormat is a string type: a JSON string.
type GroupNameFormat string

// Config is the Microsoft connector's configuration. PromptType is a plain string here (a pointer in
// the oidc and google connectors).
type Config struct {
	ClientID               string          `json:"clientID"`
	ClientSecret           string          `json:"clientSecret"`
	ClientAssertion        string          `json:"clientAssertion"`
	RedirectURI            string          `json:"redirectURI"`
	Tenant                 string          `json:"tenant"`
	OnlySecurityGroups     bool            `json:"onlySecurityGroups"`
	Groups                 []string        `json:"groups"`
	GroupNameFormat        GroupNameFormat `json:"groupNameFormat"`
	UseGroupsAsWhitelist   bool            `json:"useGroupsAsWhitelist"`
	EmailToLowercase       bool            `json:"emailToLowercase"`
	BatchGroupLookups      bool            `json:"batchGroupLookups"`
	APIURL                 string          `json:"apiURL"`
	GraphURL               string          `json:"graphURL"`
	PromptType             string          `json:"promptType"`
	DomainHint             string          `json:"domainHint"`
	Scopes                 []string        `json:"scopes"`
	PreferredUsernameField string          `json:"preferredUsernameField"`
}
