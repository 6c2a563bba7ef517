//go:build unix && !linux

package clustertest

import (
	"os/exec"
	"syscall"
)

// sysProcAttr runs the process as cred when that is not nil. Where the
// kernel cannot tie a child's life to its parent's, the cluster's cleanup
// still stops every process when the test ends.
func sysProcAttr(cmd *exec.Cmd, cred *syscall.Credential) {
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
}
