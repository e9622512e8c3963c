// ozryamlcheck reads a YAML file the way the real servers do and prints what they read, as JSON:
//
//	ozryamlcheck dex FILE      ghodss/yaml YAMLToJSON (go-yaml v2 underneath), as Dex's cmd/dex/serve.go
//	ozryamlcheck netbird FILE  gopkg.in/yaml.v3 Unmarshal into interface{}, as NetBird's combined/cmd/config.go
//
//	ozryamlcheck dex-flags FILE      ghodss/yaml Unmarshal into the bool of Dex's Config that turns local
//	                                 login on ({"enablePasswordDB": …}), as runServe decodes its Config
//	ozryamlcheck netbird-flags FILE  yaml.v3 Unmarshal into the bool of NetBird's CombinedConfig that turns
//	                                 it off ({"localAuthDisabled": …})
//	ozryamlcheck netbird-json-flags FILE  encoding/json into management.json's EmbeddedIdP.LocalAuthDisabled
//
// Exit 0 with the JSON on stdout; exit 1 with the library's error on stderr when it refuses the file.
//
//	ozryamlcheck batch READER FILE...
//
// reads many files in one run: one line each, {"value": <what it reads>} or {"error": "<why not>"}.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/ghodss/yaml"
	yaml3 "gopkg.in/yaml.v3"
)

// plain turns yaml.v3's maps into JSON-encodable ones (keys printed with %v, as a JSON object needs strings).
func plain(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		out := map[string]interface{}{}
		for k, x := range t {
			out[k] = plain(x)
		}
		return out
	case map[interface{}]interface{}:
		out := map[string]interface{}{}
		for k, x := range t {
			out[fmt.Sprintf("%v", k)] = plain(x)
		}
		return out
	case []interface{}:
		for i, x := range t {
			t[i] = plain(x)
		}
		return t
	}
	return v
}

// dexFlags is the field of Dex's Config (cmd/dex/config.go) that turns local (password) login on.
type dexFlags struct {
	EnablePasswordDB bool `json:"enablePasswordDB"`
}

// netbirdFlags is the path of NetBird's CombinedConfig (combined/cmd/config.go: ServerConfig, AuthConfig)
// to the field that turns local login off.
type netbirdFlags struct {
	Server struct {
		Auth struct {
			LocalAuthDisabled bool `yaml:"localAuthDisabled"`
		} `yaml:"auth"`
	} `yaml:"server"`
}

// netbirdJSONFlags is the path of NetBird's management.json (management/server/idp EmbeddedIdPConfig) to
// the field that turns local login off, decoded by encoding/json.
type netbirdJSONFlags struct {
	EmbeddedIdP struct {
		LocalAuthDisabled bool
	}
}

// readers are the names a reader is given by.
var readers = map[string]bool{"dex": true, "netbird": true, "dex-flags": true, "netbird-flags": true, "netbird-json-flags": true}

// read is what reader reads from data, as JSON.
func read(reader string, data []byte) ([]byte, error) {
	switch reader {
	case "dex":
		return yaml.YAMLToJSON(data)
	case "dex-flags":
		var c dexFlags
		if err := yaml.Unmarshal(data, &c); err != nil {
			return nil, err
		}
		return json.Marshal(map[string]bool{"enablePasswordDB": c.EnablePasswordDB})
	case "netbird-flags":
		var c netbirdFlags
		if err := yaml3.Unmarshal(data, &c); err != nil {
			return nil, err
		}
		return json.Marshal(map[string]bool{"localAuthDisabled": c.Server.Auth.LocalAuthDisabled})
	case "netbird-json-flags":
		var c netbirdJSONFlags
		if err := json.Unmarshal(data, &c); err != nil {
			return nil, err
		}
		return json.Marshal(map[string]bool{"localAuthDisabled": c.EmbeddedIdP.LocalAuthDisabled})
	}
	var v interface{}
	if err := yaml3.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	return json.Marshal(plain(v))
}

func batch(reader string, files []string) {
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		line := map[string]interface{}{}
		if out, err := read(reader, data); err != nil {
			line["error"] = err.Error()
		} else {
			line["value"] = json.RawMessage(out)
		}
		b, err := json.Marshal(line)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Stdout.Write(append(b, '\n'))
	}
}

func main() {
	if len(os.Args) >= 3 && os.Args[1] == "batch" && readers[os.Args[2]] {
		batch(os.Args[2], os.Args[3:])
		return
	}
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: ozryamlcheck dex|netbird|dex-flags|netbird-flags|netbird-json-flags FILE")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if !readers[os.Args[1]] {
		fmt.Fprintln(os.Stderr, "usage: ozryamlcheck dex|netbird|dex-flags|netbird-flags|netbird-json-flags FILE")
		os.Exit(2)
	}
	out, err := read(os.Args[1], data)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
	os.Stdout.Write([]byte("\n"))
}
