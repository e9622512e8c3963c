package main

// The login check: what Dex's password connector does with an email and a password
// (dexidp/dex server/connectors/password.go, passwordDB.Login), on the real libraries: the row is read the
// way storage/sql's getPassword reads it (`where email = $1` with strings.ToLower(email)), the hash's cost
// is checked as server/passwords.CheckCost does (bcrypt.DefaultCost to 16), and the password is compared
// with golang.org/x/crypto/bcrypt's CompareHashAndPassword. The database is opened read-only.
//
// Exit 0 and `accepted user_id=<id>` on stdout: Dex logs the user in. Exit 1 and `refused: <why>`: it does
// not (no such user, a wrong password, a cost Dex refuses). Exit 2: the check could not be made.

import (
	"database/sql"
	"flag"
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Dex's upBoundCost (server/passwords/passwords.go).
const upBoundCost = 16

func runLogin(args []string) int {
	fs := flag.NewFlagSet("login", flag.ContinueOnError)
	db := fs.String("db", "", "the Dex SQLite database")
	email := fs.String("email", "", "the email to log in with")
	passwordFile := fs.String("password-file", "", "a file holding the password (its bytes, trailing CR and LF dropped)")
	if err := fs.Parse(args); err != nil || *db == "" || *email == "" || *passwordFile == "" {
		fmt.Fprintln(os.Stderr, "standin-go login: --db, --email and --password-file are required")
		return 2
	}
	data, err := os.ReadFile(*passwordFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "standin-go login: %v\n", err)
		return 2
	}
	password := strings.TrimRight(string(data), "\r\n")

	conn, err := sql.Open("sqlite3", "file:"+*db+"?mode=ro")
	if err != nil {
		fmt.Fprintf(os.Stderr, "standin-go login: %v\n", err)
		return 2
	}
	defer conn.Close()
	var hash []byte
	var userID string
	err = conn.QueryRow(`select hash, user_id from password where email = $1;`, strings.ToLower(*email)).Scan(&hash, &userID)
	if err == sql.ErrNoRows {
		fmt.Println("refused: no such user")
		return 1
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "standin-go login: get password: %v\n", err)
		return 2
	}
	cost, err := bcrypt.Cost(hash)
	if err != nil {
		fmt.Println("refused: parsing bcrypt hash:", err)
		return 1
	}
	if cost < bcrypt.DefaultCost || cost > upBoundCost {
		fmt.Printf("refused: hash cost %d outside %d..%d\n", cost, bcrypt.DefaultCost, upBoundCost)
		return 1
	}
	if err := bcrypt.CompareHashAndPassword(hash, []byte(password)); err != nil {
		fmt.Println("refused: wrong password")
		return 1
	}
	fmt.Printf("accepted user_id=%s\n", userID)
	return 0
}
