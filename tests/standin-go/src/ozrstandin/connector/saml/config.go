// Package saml: Dex's "saml" (and "samlExperimental") connector configuration (field names, JSON keys and Go
// types as Dex has them).
package saml

// Config is the SAML connector's configuration. CAData is []byte: base64 in JSON.
type Config struct {
	EntityIssuer                    string   `json:"entityIssuer"`
	SSOIssuer                       string   `json:"ssoIssuer"`
	SSOURL                          string   `json:"ssoURL"`
	CA                              string   `json:"ca"`
	CAData                          []byte   `json:"caData"`
	InsecureSkipSignatureValidation bool     `json:"insecureSkipSignatureValidation"`
	UsernameAttr                    string   `json:"usernameAttr"`
	EmailAttr                       string   `json:"emailAttr"`
	GroupsAttr                      string   `json:"groupsAttr"`
	GroupsDelim                     string   `json:"groupsDelim"`
	AllowedGroups                   []string `json:"allowedGroups"`
	FilterGroups                    bool     `json:"filterGroups"`
	RedirectURI                     string   `json:"redirectURI"`
	NameIDPolicyFormat              string   `json:"nameIDPolicyFormat"`
}
