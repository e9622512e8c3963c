package main

// The Go checker of a Dex store on a database server: the connector rows read the way Dex's storage/sql
// reads them (`select id, type, name, resource_version, config from connector`, config scanned into a
// []byte) through the real drivers Dex links, lib/pq and go-sql-driver/mysql (Debian's
// golang-github-lib-pq-dev and golang-github-go-sql-driver-mysql-dev), and each config decoded into Dex's
// Config for its type (dexconfig.go). One JSON line per row on stdout:
// {"id","type","name","resource_version","config_hex","config_null","decode_error"}.
//
//	standin-go dbrows --driver postgres|mysql --dsn-file FILE
//
// The DSN is the driver's own (lib/pq's key=value string, go-sql-driver's DSN), read from a file so that
// its password is on no command line. Exit 2 when the rows cannot be read.

import (
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/lib/pq"
)

func runDBRows(args []string) int {
	fs := flag.NewFlagSet("dbrows", flag.ContinueOnError)
	driver := fs.String("driver", "", "postgres or mysql")
	dsnFile := fs.String("dsn-file", "", "a file holding the driver's DSN")
	if err := fs.Parse(args); err != nil || *driver == "" || *dsnFile == "" {
		fmt.Fprintln(os.Stderr, "standin-go dbrows: --driver and --dsn-file are required")
		return 2
	}
	data, err := os.ReadFile(*dsnFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "standin-go dbrows: %v\n", err)
		return 2
	}
	name := map[string]string{"postgres": "postgres", "mysql": "mysql"}[*driver]
	if name == "" {
		fmt.Fprintf(os.Stderr, "standin-go dbrows: unknown driver %q\n", *driver)
		return 2
	}
	db, err := sql.Open(name, strings.TrimSpace(string(data)))
	if err != nil {
		fmt.Fprintf(os.Stderr, "standin-go dbrows: %v\n", err)
		return 2
	}
	defer db.Close()
	rows, err := db.Query(`select id, type, name, resource_version, config from connector order by id`)
	if err != nil {
		fmt.Fprintf(os.Stderr, "standin-go dbrows: %v\n", err)
		return 2
	}
	defer rows.Close()
	enc := json.NewEncoder(os.Stdout)
	for rows.Next() {
		var id, typ, nm, rv string
		var config []byte
		if err := rows.Scan(&id, &typ, &nm, &rv, &config); err != nil {
			fmt.Fprintf(os.Stderr, "standin-go dbrows: %v\n", err)
			return 2
		}
		out := map[string]interface{}{
			"id": id, "type": typ, "name": nm, "resource_version": rv,
			"config_hex": hex.EncodeToString(config), "config_null": config == nil,
		}
		if _, err := decodeConfig(typ, config); err != nil {
			out["decode_error"] = err.Error()
		}
		if err := enc.Encode(out); err != nil {
			return 2
		}
	}
	if err := rows.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "standin-go dbrows: %v\n", err)
		return 2
	}
	return 0
}
