//go:build tools

// Package spicedb pins github.com/authzed/spicedb for the integration tests.
package spicedb

import _ "github.com/authzed/spicedb/cmd/spicedb"
