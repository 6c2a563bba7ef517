package spicedbtest

import (
	"os/exec"
	"syscall"
)

// dieWithParent asks the kernel to kill the server if the test binary dies
// without stopping it (a test timeout, a crash), so no server is orphaned.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
