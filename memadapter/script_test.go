package memadapter_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/memadapter"
)

// TestScripts runs the scenarios of testdata/*.txt, whose expectations
// were recorded against SpiceDB.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			runScript(t, file)
		})
	}
}

func runScript(t *testing.T, file string) {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	var (
		a        *memadapter.Authorizer
		inSchema bool
		schema   strings.Builder
		lineNo   int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if inSchema {
			if line == ">>" {
				inSchema = false
				a = newAuthorizer(t, schema.String())
				continue
			}
			schema.WriteString(line + "\n")
			continue
		}
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		where := file + ":" + strconv.Itoa(lineNo) + ": " + line
		switch fields[0] {
		case "schema":
			inSchema = true
			schema.Reset()
		case "write", "delete":
			var req authz.WriteRequest
			for _, r := range fields[1:] {
				if fields[0] == "write" {
					req.Touch = append(req.Touch, parseRel(t, r))
				} else {
					req.Delete = append(req.Delete, parseRel(t, r))
				}
			}
			if _, err := a.Write(ctx, req); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
		case "check":
			got := outcome(a.Check(ctx, parseCheck(t, fields[1])))
			if got != fields[2] {
				t.Errorf("%s: got %s", where, got)
			}
		case "lookup":
			res, err := a.Lookup(ctx, parseLookup(t, fields[1]))
			got := res.IDs()
			switch {
			case err != nil:
				got = []string{errOutcome(err)}
			case len(got) == 0:
				got = []string{"none"}
			case !slices.IsSorted(got):
				t.Errorf("%s: ids not sorted: %v", where, got)
			}
			if diff := cmp.Diff(fields[2:], got); diff != "" {
				t.Errorf("%s: mismatch (-want +got):\n%s", where, diff)
			}
		default:
			t.Fatalf("%s: unknown command", where)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// parseLookup parses "type#permission@subject" into a request.
func parseLookup(t testing.TB, s string) authz.LookupRequest {
	t.Helper()
	res, sub, _ := strings.Cut(s, "@")
	typ, perm, _ := strings.Cut(res, "#")
	return authz.LookupRequest{Subject: parseSubject(t, sub), ResourceType: typ, Permission: perm}
}
