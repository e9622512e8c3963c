// Package keystone: Dex's "keystone" connector configuration (field names, JSON keys and Go types as Dex
// has them).
package keystone

// Config is the OpenStack Keystone connector's configuration.
type Config struct {
	Domain        string `json:"domain"`
	Host          string `json:"keystoneHost"`
	AdminUsername string `json:"keystoneUsername"`
	AdminPassword string `json:"keystonePassword"`
}
