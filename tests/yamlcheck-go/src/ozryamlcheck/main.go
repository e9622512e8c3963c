// ozryamlcheck reads a YAML file the way the real servers do and prints what they read, as JSON:
//
//	ozryamlcheck dex FILE      ghodss/yaml YAMLToJSON (go-yaml v2 underneath), as Dex's cmd/dex/serve.go
//	ozryamlcheck netbird FILE  gopkg.in/yaml.v3 Unmarshal into interface{}, as NetBird's combined/cmd/config.go
//
// Exit 0 with the JSON on stdout; exit 1 with the library's error on stderr when it refuses the file.
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

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: ozryamlcheck dex|netbird FILE")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var out []byte
	switch os.Args[1] {
	case "dex":
		out, err = yaml.YAMLToJSON(data)
	case "netbird":
		var v interface{}
		if err = yaml3.Unmarshal(data, &v); err == nil {
			out, err = json.Marshal(plain(v))
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: ozryamlcheck dex|netbird FILE")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
	os.Stdout.Write([]byte("\n"))
}
