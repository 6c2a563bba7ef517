package spicedbtest

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

const (
	// modulePath is the module whose root holds bin/ and internal/tools.
	modulePath = "github.com/fgac-go/fgac"
	// spicedbModule and spicedbMain name what the tools module pins.
	spicedbModule = "github.com/authzed/spicedb"
	spicedbMain   = "github.com/authzed/spicedb/cmd/spicedb"
	// envBinary overrides the binary the harness runs.
	envBinary = "FGAC_SPICEDB_BIN"
)

// binary returns the path of the spicedb binary to run, building it if
// needed; see the package documentation for the order.
func binary(ctx context.Context) (string, error) {
	if p := os.Getenv(envBinary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("spicedbtest: $%s: %w", envBinary, err)
		}
		return p, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	toolsDir := filepath.Join(root, "internal", "tools", "spicedb")
	want, err := pinnedVersion(filepath.Join(toolsDir, "go.mod"))
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, "bin", exe("spicedb"))
	if builtFrom(bin, want) {
		return bin, nil
	}
	return bin, build(ctx, toolsDir, bin, want)
}

// build builds the pinned SpiceDB into bin, unless another process built
// it while this one waited for the lock.
func build(ctx context.Context, toolsDir, bin, want string) error {
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return fmt.Errorf("spicedbtest: %w", err)
	}
	unlock, err := lockFile(bin + ".lock")
	if err != nil {
		return fmt.Errorf("spicedbtest: lock %s: %w", bin, err)
	}
	defer unlock()
	if builtFrom(bin, want) {
		return nil
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("spicedbtest: no spicedb binary and no Go toolchain to build one: %w", err)
	}
	tmp := fmt.Sprintf("%s.tmp%d", bin, os.Getpid())
	defer os.Remove(tmp)
	cmd := exec.CommandContext(ctx, goTool, "build", "-C", toolsDir, "-mod=readonly", "-buildvcs=false", "-o", tmp, spicedbMain)
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("spicedbtest: build %s %s: %w\n%s", spicedbModule, want, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return fmt.Errorf("spicedbtest: %w", err)
	}
	return nil
}

// builtFrom reports whether bin exists and was built from SpiceDB version
// want, so that a binary left over from an older pin is rebuilt.
func builtFrom(bin, want string) bool {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return false
	}
	if info.Main.Path == spicedbModule {
		return info.Main.Version == want
	}
	for _, dep := range info.Deps {
		if dep.Path == spicedbModule {
			return dep.Version == want && dep.Replace == nil
		}
	}
	return false
}

// pinnedVersion reads the SpiceDB version that the tools module requires.
func pinnedVersion(goMod string) (string, error) {
	data, err := os.ReadFile(goMod)
	if err != nil {
		return "", fmt.Errorf("spicedbtest: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(fields) >= 2 && fields[0] == spicedbModule {
			return fields[1], nil
		}
	}
	return "", fmt.Errorf("spicedbtest: %s does not require %s", goMod, spicedbModule)
}

// moduleRoot returns the directory of the go.mod of [modulePath], searching
// up from the working directory (a package directory under go test).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("spicedbtest: %w", err)
	}
	for {
		if isModuleRoot(dir) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("spicedbtest: no enclosing " + modulePath + " module; set $" + envBinary)
		}
		dir = parent
	}
}

func isModuleRoot(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`) == modulePath
		}
	}
	return false
}

func exe(name string) string {
	if runtime.GOOS == "windows" {
		return name + ".exe"
	}
	return name
}
