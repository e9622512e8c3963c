// Package ldap: Dex's "ldap" connector configuration (field names, JSON keys and Go types as Dex v2.45.1
// has them, where userSearch.username is a string; kerberos from Dex master).
package ldap

// UserMatcher pairs a user attribute with a group attribute.
type UserMatcher struct {
	UserAttr           string `json:"userAttr"`
	GroupAttr          string `json:"groupAttr"`
	RecursionGroupAttr string `json:"recursionGroupAttr"`
}

// Config is the LDAP connector's configuration. RootCAData is []byte: base64 in JSON.
type Config struct {
	Host               string `json:"host"`
	InsecureNoSSL      bool   `json:"insecureNoSSL"`
	InsecureSkipVerify bool   `json:"insecureSkipVerify"`
	StartTLS           bool   `json:"startTLS"`
	RootCA             string `json:"rootCA"`
	ClientCert         string `json:"clientCert"`
	ClientKey          string `json:"clientKey"`
	RootCAData         []byte `json:"rootCAData"`
	BindDN             string `json:"bindDN"`
	BindPW             string `json:"bindPW"`
	UsernamePrompt     string `json:"usernamePrompt"`

	Kerberos *KerberosConfig `json:"kerberos"`

	UserSearch struct {
		BaseDN                    string `json:"baseDN"`
		Filter                    string `json:"filter"`
		Username                  string `json:"username"`
		Scope                     string `json:"scope"`
		IDAttr                    string `json:"idAttr"`
		EmailAttr                 string `json:"emailAttr"`
		NameAttr                  string `json:"nameAttr"`
		PreferredUsernameAttrAttr string `json:"preferredUsernameAttr"`
		EmailSuffix               string `json:"emailSuffix"`
	} `json:"userSearch"`

	GroupSearch struct {
		BaseDN             string        `json:"baseDN"`
		Filter             string        `json:"filter"`
		Scope              string        `json:"scope"`
		UserAttr           string        `json:"userAttr"`
		GroupAttr          string        `json:"groupAttr"`
		RecursionGroupAttr string        `json:"recursionGroupAttr"`
		UserMatchers       []UserMatcher `json:"userMatchers"`
		NameAttr           string        `json:"nameAttr"`
	} `json:"groupSearch"`
}

// KerberosConfig is the Kerberos (SPNEGO) login's configuration; MaxClockSkew is an int.
type KerberosConfig struct {
	Enabled               bool   `json:"enabled"`
	KeytabPath            string `json:"keytabPath"`
	SPN                   string `json:"spn"`
	KeytabPrincipal       string `json:"keytabPrincipal"`
	MaxClockSkew          int    `json:"maxClockSkew"`
	ExpectedRealm         string `json:"expectedRealm"`
	UsernameFromPrincipal string `json:"usernameFromPrincipal"`
	FallbackToPassword    bool   `json:"fallbackToPassword"`
}
