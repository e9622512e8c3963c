// Command standin-go is a stand-in for the management server with its embedded Dex, built from the real
// libraries: mattn/go-sqlite3 through database/sql reads the connector table, encoding/json decodes each
// connector's config into a struct shaped like Dex's oidc.Config, go-oidc's NewProvider fetches each
// provider's discovery document (served by this program on loopback) and compares issuers, and logrus
// prints the outcome the way NetBird does.
//
// Environment (serve mode, the default):
//
//	STANDIN_DB              database path (default /var/lib/openzro/idp.db)
//	STANDIN_PUBLISHED       issuers the providers publish, separated by white space
//	STANDIN_PUBLISHED_JSON  more published issuers as a JSON array of strings (for ones holding white space)
//	STANDIN_DISCOVERY_ADDR  where the discovery documents are served (default 127.0.0.1:5556)
//	STANDIN_FORMAT          text (logrus TextFormatter) | json (logrus JSONFormatter) | netbird (NetBird's lines)
//	STANDIN_MILLIS          1: millisecond timestamps (NetBird >= v0.65.3)
//	STANDIN_ON_FAILURE      fatal (NetBird v0.62-v0.65.1: log.Fatal, exit 1) | continue (v0.65.2+: ERRO, keep running)
//	STANDIN_READY_THEN_CRASH 1: print the ready line, then exit 1 after STANDIN_CRASH_AFTER_MS (default 2000)
//
// Second command: `standin-go corpus [--count N] [--seed S]` prints a JSON-lines corpus of real log lines.
// Third: `standin-go login --db PATH --email ADDR --password-file FILE` logs in as Dex's password connector
// does (login.go). Fourth: `standin-go dexconfig schema|decode`, the Go checker of connector configs
// (dexconfig.go); `standin-go dbrows` reads a database server's connector rows through lib/pq or
// go-sql-driver/mysql (dbrows.go); `standin-go foldtable` prints src/dex/foldtable.rs (foldtable.go); `standin-go version`.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	gooidc "github.com/coreos/go-oidc"
	_ "github.com/mattn/go-sqlite3"
	log "github.com/sirupsen/logrus"

	"ozrstandin/connector/oidc"
)

// Where the real server logs each line from (NetBird v0.65.0/v0.65.1 line numbers).
const (
	srcStorage = "management/cmd/management.go:192"
	srcFatal   = "management/internals/server/modules.go:122"
	srcDex     = "idp/dex/logrus_handler.go:83"
	srcVersion = "management/internals/server/server.go:201"
	srcReady   = "management/internals/server/server.go:202"

	readyMsg   = "running HTTP server and gRPC server on the same port: [::]:80"
	versionMsg = "management server version 0.64.0"
	// NetBird's wrapping of a failed Dex start (log.Fatalf("failed to create embedded IDP manager: %v")).
	netbirdPrefix = "failed to create embedded IDP manager: failed to create embedded IdP provider: failed to create dex server: "
)

type connectorRow struct {
	id, typ, name, resourceVersion string
	config                         []byte
}

func env(k, def string) string {
	if v, ok := os.LookupEnv(k); ok {
		return v
	}
	return def
}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "corpus":
			if err := runCorpus(os.Args[2:]); err != nil {
				fmt.Fprintf(os.Stderr, "standin-go corpus: %v\n", err)
				os.Exit(2)
			}
			return
		case "login":
			os.Exit(runLogin(os.Args[2:]))
		case "dexconfig":
			os.Exit(runDexconfig(os.Args[2:]))
		case "dbrows":
			os.Exit(runDBRows(os.Args[2:]))
		case "foldtable":
			os.Exit(runFoldTable())
		case "version":
			os.Exit(runVersion())
		case "serve":
		default:
			fmt.Fprintf(os.Stderr, "usage: standin-go [serve] | standin-go corpus [--count N] [--seed S] | standin-go login --db PATH --email ADDR --password-file FILE | standin-go dexconfig schema|decode | standin-go foldtable | standin-go version\n")
			os.Exit(2)
		}
	}
	serve()
}

// setup is a failure of the stand-in itself, not of the server it stands in for: exit 2, on stderr.
func setup(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "standin-go: "+format+"\n", a...)
	os.Exit(2)
}

func publishedIssuers() []string {
	list := strings.Fields(env("STANDIN_PUBLISHED", ""))
	if js := env("STANDIN_PUBLISHED_JSON", ""); js != "" {
		var more []string
		if err := json.Unmarshal([]byte(js), &more); err != nil {
			setup("STANDIN_PUBLISHED_JSON: %v", err)
		}
		list = append(list, more...)
	}
	return list
}

func serve() {
	// Stop at once on SIGTERM/SIGINT, as a stopped management server does (exit 0).
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		os.Exit(0)
	}()

	f, err := formatter(env("STANDIN_FORMAT", "text"), env("STANDIN_MILLIS", "0") == "1")
	if err != nil {
		setup("%v", err)
	}
	logger := log.New()
	logger.SetOutput(os.Stdout) // NetBird logs to stdout with --log-file console
	logger.SetFormatter(f)
	logger.SetLevel(log.InfoLevel)

	onFailure := env("STANDIN_ON_FAILURE", "fatal")
	if onFailure != "fatal" && onFailure != "continue" {
		setup("unknown STANDIN_ON_FAILURE %q (fatal or continue)", onFailure)
	}

	var issuers []published
	for _, s := range publishedIssuers() {
		p, err := parsePublished(s)
		if err != nil {
			setup("published issuer %q: %v", s, err)
		}
		issuers = append(issuers, p)
	}
	disc, err := newDiscovery(env("STANDIN_DISCOVERY_ADDR", "127.0.0.1:5556"), issuers)
	if err != nil {
		setup("%v", err)
	}
	client := disc.client(false)

	db := env("STANDIN_DB", "/var/lib/openzro/idp.db")
	withSource(logger, srcStorage).WithField("file", db).Info("loading embedded IdP storage")
	rows, err := listConnectors(db)
	if err != nil {
		withSource(logger, srcFatal).Fatal("failed to create embedded IDP manager: failed to open storage: " + err.Error())
	}

	if len(rows) == 0 {
		withSource(logger, srcFatal).Fatal(netbirdPrefix + "server: no connectors specified")
	}
	failed := 0
	for _, row := range rows {
		err := openConnector(client, row)
		if err == nil {
			continue
		}
		failed++
		if onFailure == "fatal" {
			// Dex: fmt.Errorf("server: Failed to open connector %s: %v"), NetBird: log.Fatalf.
			withSource(logger, srcFatal).Fatal(netbirdPrefix + "server: Failed to open connector " + row.id + ": " + err.Error())
		}
		// Dex with ContinueOnConnectorFailure: logger.Error("server: Failed to open connector", "id", id,
		// "err", err), through NetBird's slog-to-logrus handler.
		withSource(logger, srcDex).WithFields(log.Fields{"id": row.id, "err": err.Error()}).Error("server: Failed to open connector")
	}
	if failed == len(rows) {
		withSource(logger, srcFatal).Fatal(fmt.Sprintf("%sserver: failed to open all connectors (%d/%d)", netbirdPrefix, failed, len(rows)))
	}

	withSource(logger, srcVersion).Info(versionMsg)
	withSource(logger, srcReady).Info(readyMsg)

	if env("STANDIN_READY_THEN_CRASH", "0") == "1" {
		ms, err := strconv.Atoi(env("STANDIN_CRASH_AFTER_MS", "2000"))
		if err != nil || ms < 0 {
			setup("STANDIN_CRASH_AFTER_MS: want a number of milliseconds")
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
		os.Exit(1)
	}
	select {}
}

// listConnectors reads the connector table as Dex's SQL storage does (config scanned into []byte, which
// database/sql fills from a BLOB or a TEXT value alike).
func listConnectors(path string) ([]connectorRow, error) {
	db, err := sql.Open("sqlite3", path+"?_busy_timeout=5000")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rs, err := db.Query("select id, type, name, resource_version, config from connector")
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []connectorRow
	for rs.Next() {
		var r connectorRow
		if err := rs.Scan(&r.id, &r.typ, &r.name, &r.resourceVersion, &r.config); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

// openConnector opens one connector the way Dex's Server.OpenConnector does and returns the error chain
// Dex builds: "failed to open connector: failed to create connector <id>: failed to get provider: <go-oidc>".
func openConnector(client *http.Client, row connectorRow) error {
	if row.typ == "local" {
		return nil
	}
	if err := openTyped(client, row); err != nil {
		return fmt.Errorf("failed to open connector: %v", err)
	}
	return nil
}

func openTyped(client *http.Client, row connectorRow) error {
	// An unknown type fails as in Dex; every known type's config is decoded into its Config (dexconfig.go);
	// only oidc is opened further.
	c, err := decodeConfig(row.typ, row.config)
	if err != nil {
		return err
	}
	if o, ok := c.(*oidc.Config); ok {
		if err := openOIDC(client, o); err != nil {
			return fmt.Errorf("failed to create connector %s: %v", row.id, err)
		}
	}
	return nil
}

// openOIDC is the discovery part of Dex's oidc connector Open.
func openOIDC(client *http.Client, c *oidc.Config) error {
	if len(c.HostedDomains) > 0 {
		return errors.New("support for the Hosted domains option had been deprecated and removed, consider switching to the Google connector")
	}
	ctx, cancel := context.WithCancel(gooidc.ClientContext(context.Background(), client))
	defer cancel()
	if _, err := gooidc.NewProvider(ctx, c.Issuer); err != nil {
		// Dex v2.43+ with issuerAlias wraps the context in oidc.InsecureIssuerURLContext: go-oidc v3 still
		// fetches the discovery document but skips the issuer comparison. go-oidc 2.x has no such context,
		// so only its comparison error is dropped here; every other discovery error still counts.
		if c.IssuerAlias != "" && isMismatch(err) {
			return nil
		}
		return fmt.Errorf("failed to get provider: %v", err)
	}
	return nil
}

// isMismatch tells go-oidc's issuer comparison error from every other NewProvider error.
func isMismatch(err error) bool {
	return strings.HasPrefix(err.Error(), "oidc: issuer did not match the issuer returned by provider, ")
}
