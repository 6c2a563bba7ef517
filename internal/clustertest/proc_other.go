//go:build unix && !linux

package clustertest

import (
	"os/exec"
	"syscall"
)

// credential is the user a process runs as.
type credential = syscall.Credential

func newCredential(uid, gid uint32) *credential {
	return &credential{Uid: uid, Gid: gid, NoSetGroups: true}
}

// sysProcAttr runs the process as cred when that is not nil. Where the
// kernel cannot tie a child's life to its parent's, the cluster's Close
// still stops every process.
func sysProcAttr(cmd *exec.Cmd, cred *credential) {
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
}

// The signals of [Node.Pause] and [Node.Resume].
const (
	sigStop = syscall.SIGSTOP
	sigCont = syscall.SIGCONT
)
