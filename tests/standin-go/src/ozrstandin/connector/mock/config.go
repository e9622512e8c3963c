// Package mock: the configurations of Dex's test connectors "mockCallback" (no fields) and "mockPassword".
package mock

// CallbackConfig has no fields: any JSON object decodes.
type CallbackConfig struct{}

// PasswordConfig holds the one user the mock password connector accepts.
type PasswordConfig struct {
	Username string `json:"username"`
	Password string `json:"password"`
}
