package main

// The Go checker for connector configs: `standin-go dexconfig schema|decode`. Each connector type's config
// is decoded by encoding/json into a struct with Dex's field names, JSON keys and Go types (the packages
// under connector/, written from Dex's documented configuration), exactly as Dex's openConnector does:
// an empty config (NULL or zero bytes) is not decoded at all and leaves the zero Config; anything else goes
// through json.Unmarshal, whose error Dex reports as "parse connector config: <error>".
//
//	standin-go dexconfig schema   every type's fields as JSON: {"oidc": {"kind": "struct", "fields": [...]}, ...}
//	standin-go dexconfig decode   reads JSON values {"type": T, "config": "<base64 of the bytes>"} on stdin
//	                              until its end, and writes one line for each, in order:
//	                              {"ok": true, "value": <the decoded Config, json.Marshal'ed>} or
//	                              {"ok": false, "error": "parse connector config: …", "field": "<path>"}
//	                              ("field": the JSON path of a type error, as encoding/json names it)
//	standin-go version            the Go release the binary was built with (runtime.Version())

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"runtime"
	"sort"
	"strings"

	"ozrstandin/connector/atlassiancrowd"
	"ozrstandin/connector/authproxy"
	"ozrstandin/connector/bitbucketcloud"
	"ozrstandin/connector/gitea"
	"ozrstandin/connector/github"
	"ozrstandin/connector/gitlab"
	"ozrstandin/connector/google"
	"ozrstandin/connector/keystone"
	"ozrstandin/connector/ldap"
	"ozrstandin/connector/linkedin"
	"ozrstandin/connector/microsoft"
	"ozrstandin/connector/mock"
	"ozrstandin/connector/oauth"
	"ozrstandin/connector/oidc"
	"ozrstandin/connector/openshift"
	"ozrstandin/connector/saml"
)

// configs is Dex's registry (server/server.go ConnectorsConfig): each type's empty Config. The built-in
// "local" connector has no config struct: Dex never decodes its config.
var configs = map[string]func() interface{}{
	"keystone":         func() interface{} { return new(keystone.Config) },
	"mockCallback":     func() interface{} { return new(mock.CallbackConfig) },
	"mockPassword":     func() interface{} { return new(mock.PasswordConfig) },
	"ldap":             func() interface{} { return new(ldap.Config) },
	"gitea":            func() interface{} { return new(gitea.Config) },
	"github":           func() interface{} { return new(github.Config) },
	"gitlab":           func() interface{} { return new(gitlab.Config) },
	"google":           func() interface{} { return new(google.Config) },
	"oidc":             func() interface{} { return new(oidc.Config) },
	"oauth":            func() interface{} { return new(oauth.Config) },
	"saml":             func() interface{} { return new(saml.Config) },
	"authproxy":        func() interface{} { return new(authproxy.Config) },
	"linkedin":         func() interface{} { return new(linkedin.Config) },
	"microsoft":        func() interface{} { return new(microsoft.Config) },
	"bitbucket-cloud":  func() interface{} { return new(bitbucketcloud.Config) },
	"openshift":        func() interface{} { return new(openshift.Config) },
	"atlassian-crowd":  func() interface{} { return new(atlassiancrowd.Config) },
	"samlExperimental": func() interface{} { return new(saml.Config) },
}

// decodeConfig decodes a stored config of type typ as Dex does: the Config, or Dex's error.
func decodeConfig(typ string, config []byte) (interface{}, error) {
	f, ok := configs[typ]
	if !ok {
		return nil, fmt.Errorf("unknown connector type %q", typ)
	}
	c := f()
	if len(config) != 0 {
		if err := json.Unmarshal(config, c); err != nil {
			return c, fmt.Errorf("parse connector config: %w", err)
		}
	}
	return c, nil
}

// schemaOf describes a Go type as far as JSON decoding cares.
func schemaOf(t reflect.Type) map[string]interface{} {
	switch t.Kind() {
	case reflect.String:
		return map[string]interface{}{"kind": "string"}
	case reflect.Bool:
		return map[string]interface{}{"kind": "bool"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]interface{}{"kind": "int", "bits": t.Bits()}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]interface{}{"kind": "uint", "bits": t.Bits()}
	case reflect.Float32, reflect.Float64:
		return map[string]interface{}{"kind": "float", "bits": t.Bits()}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]interface{}{"kind": "bytes"}
		}
		return map[string]interface{}{"kind": "slice", "elem": schemaOf(t.Elem())}
	case reflect.Map:
		return map[string]interface{}{"kind": "map", "elem": schemaOf(t.Elem())}
	case reflect.Ptr:
		return map[string]interface{}{"kind": "ptr", "elem": schemaOf(t.Elem())}
	case reflect.Struct:
		fields := []interface{}{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.PkgPath != "" {
				continue // unexported: encoding/json ignores it
			}
			name := f.Name
			if tag, ok := f.Tag.Lookup("json"); ok {
				if tag == "-" {
					continue
				}
				if n := strings.Split(tag, ",")[0]; n != "" {
					name = n
				}
			}
			fields = append(fields, []interface{}{name, schemaOf(f.Type)})
		}
		return map[string]interface{}{"kind": "struct", "fields": fields}
	}
	return map[string]interface{}{"kind": t.Kind().String()}
}

func runDexconfig(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: standin-go dexconfig schema|decode")
		return 2
	}
	switch args[0] {
	case "schema":
		out := map[string]interface{}{}
		types := make([]string, 0, len(configs))
		for t := range configs {
			types = append(types, t)
		}
		sort.Strings(types)
		for _, t := range types {
			out[t] = schemaOf(reflect.TypeOf(configs[t]()).Elem())
		}
		b, err := json.Marshal(out)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		os.Stdout.Write(append(b, '\n'))
		return 0
	case "decode":
		if err := decodeStream(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "standin-go dexconfig decode: %v\n", err)
			return 2
		}
		return 0
	}
	fmt.Fprintln(os.Stderr, "usage: standin-go dexconfig schema|decode")
	return 2
}

// decodeStream answers each request on in with one line on out.
func decodeStream(in io.Reader, out io.Writer) error {
	dec := json.NewDecoder(bufio.NewReaderSize(in, 1<<20))
	w := bufio.NewWriterSize(out, 1<<20)
	for {
		var req struct {
			Type   string `json:"type"`
			Config []byte `json:"config"`
		}
		if err := dec.Decode(&req); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		ans := map[string]interface{}{}
		c, err := decodeConfig(req.Type, req.Config)
		if err != nil {
			ans["ok"] = false
			ans["error"] = err.Error()
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				ans["field"] = te.Field
			}
		} else {
			ans["ok"] = true
			ans["value"] = c
		}
		b, err := json.Marshal(ans)
		if err != nil {
			return err
		}
		w.Write(append(b, '\n'))
	}
	return w.Flush()
}

func runVersion() int {
	fmt.Println(runtime.Version())
	return 0
}
