package spicedbtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigs returns the paths of the validation files of the pinned
// SpiceDB module's own integration suite
// (internal/services/integrationtesting/testconfigs), read from the module's
// source in the Go module cache, downloading it with `go mod download` if
// it is missing. Files whose names end in .skip, which SpiceDB's own suite
// skips, are included. It fails t if the files cannot be found: they are
// never skipped.
func TestConfigs(t testing.TB) []string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	toolsDir := filepath.Join(root, "internal", "tools", "spicedb")
	version, err := pinnedVersion(filepath.Join(toolsDir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "mod", "download", "-json", spicedbModule+"@"+version)
	cmd.Dir = toolsDir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("spicedbtest: go mod download %s@%s: %v", spicedbModule, version, err)
	}
	var dir string
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && strings.Trim(k, `"`) == "Dir" {
			dir = strings.Trim(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), ",")), `"`)
		}
	}
	if dir == "" {
		t.Fatalf("spicedbtest: go mod download named no directory for %s@%s", spicedbModule, version)
	}
	configs := filepath.Join(dir, "internal", "services", "integrationtesting", "testconfigs")
	entries, err := os.ReadDir(configs)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if name := e.Name(); strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yaml.skip") {
			files = append(files, filepath.Join(configs, name))
		}
	}
	if len(files) == 0 {
		t.Fatalf("spicedbtest: no validation files in %s", configs)
	}
	return files
}
