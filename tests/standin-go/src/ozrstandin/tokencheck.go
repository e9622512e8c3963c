package main

// The token check: `standin-go tokencheck --db PATH --connector ID [--token-url URL]` reads the connector's
// row as Dex's SQL storage reads it (the database opened read-only), decodes its config into Dex's Config
// for its type (encoding/json, as Dex's openConnector does), and asks the provider's token endpoint for a
// token with the client credentials grant (golang.org/x/oauth2/clientcredentials, Debian's
// golang-golang-x-oauth2-dev) with the clientID and clientSecret Dex would send. The endpoint is
// --token-url, else the oauth connector's tokenURL, else the token_endpoint of the issuer's discovery
// document (go-oidc).
//
// Exit 0 and `accepted` on stdout: the provider took the stored credential. Exit 1 and `refused: <why>`:
// it did not. Exit 2: the check could not be made. The secret is never printed.

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"reflect"
	"time"

	gooidc "github.com/coreos/go-oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// stringField is the string field `name` of a decoded Config (ClientID, ClientSecret, Issuer, TokenURL).
func stringField(c interface{}, name string) string {
	v := reflect.ValueOf(c)
	if v.Kind() == reflect.Ptr {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return ""
	}
	f := v.FieldByName(name)
	if !f.IsValid() || f.Kind() != reflect.String {
		return ""
	}
	return f.String()
}

func runTokenCheck(args []string) int {
	fs := flag.NewFlagSet("tokencheck", flag.ContinueOnError)
	db := fs.String("db", "", "the Dex SQLite database")
	id := fs.String("connector", "", "the connector's id")
	tokenURL := fs.String("token-url", "", "the token endpoint (default: the connector's)")
	if err := fs.Parse(args); err != nil || *db == "" || *id == "" {
		fmt.Fprintln(os.Stderr, "standin-go tokencheck: --db and --connector are required")
		return 2
	}
	conn, err := sql.Open("sqlite3", "file:"+*db+"?mode=ro")
	if err != nil {
		fmt.Fprintf(os.Stderr, "standin-go tokencheck: %v\n", err)
		return 2
	}
	defer conn.Close()
	var typ string
	var config []byte
	if err := conn.QueryRow(`select type, config from connector where id = $1;`, *id).Scan(&typ, &config); err != nil {
		fmt.Fprintf(os.Stderr, "standin-go tokencheck: get connector: %v\n", err)
		return 2
	}
	c, err := decodeConfig(typ, config)
	if err != nil {
		fmt.Fprintf(os.Stderr, "standin-go tokencheck: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := *tokenURL
	if url == "" {
		url = stringField(c, "TokenURL")
	}
	if url == "" {
		issuer := stringField(c, "Issuer")
		if issuer == "" {
			fmt.Fprintln(os.Stderr, "standin-go tokencheck: no token endpoint: give --token-url")
			return 2
		}
		p, err := gooidc.NewProvider(ctx, issuer)
		if err != nil {
			fmt.Fprintf(os.Stderr, "standin-go tokencheck: discovery: %v\n", err)
			return 2
		}
		url = p.Endpoint().TokenURL
	}
	cc := clientcredentials.Config{
		ClientID:     stringField(c, "ClientID"),
		ClientSecret: stringField(c, "ClientSecret"),
		TokenURL:     url,
		AuthStyle:    oauth2.AuthStyleAutoDetect,
	}
	if _, err := cc.Token(ctx); err != nil {
		if _, ok := err.(*oauth2.RetrieveError); ok {
			fmt.Printf("refused: %v\n", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "standin-go tokencheck: %v\n", err)
		return 2
	}
	fmt.Println("accepted")
	return 0
}
