package clustertest

import (
	"os/exec"
	"syscall"
)

// sysProcAttr asks the kernel to kill the process if the test binary dies
// without stopping it (a test timeout, a crash), so nothing is orphaned,
// and runs it as cred when that is not nil.
func sysProcAttr(cmd *exec.Cmd, cred *syscall.Credential) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: cred}
}
