// ozryamlcheck reads a YAML file the way the real servers do and prints what they read, as JSON:
//
//	ozryamlcheck dex FILE      ghodss/yaml YAMLToJSON (go-yaml v2 underneath), as Dex's cmd/dex/serve.go
//	ozryamlcheck netbird FILE  gopkg.in/yaml.v3 Unmarshal into interface{}, as NetBird's combined/cmd/config.go
//
// Exit 0 with the JSON on stdout; exit 1 with the library's error on stderr when it refuses the file.
//
//	ozryamlcheck batch dex|netbird FILE...
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

// read is what reader reads from data, as JSON.
func read(reader string, data []byte) ([]byte, error) {
	if reader == "dex" {
		return yaml.YAMLToJSON(data)
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
	if len(os.Args) >= 3 && os.Args[1] == "batch" && (os.Args[2] == "dex" || os.Args[2] == "netbird") {
		batch(os.Args[2], os.Args[3:])
		return
	}
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: ozryamlcheck dex|netbird FILE")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if os.Args[1] != "dex" && os.Args[1] != "netbird" {
		fmt.Fprintln(os.Stderr, "usage: ozryamlcheck dex|netbird FILE")
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
