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

// sysProcAttr asks the kernel to kill the process if the test binary dies
// without stopping it (a test timeout, a crash), so nothing is orphaned,
// and runs it as cred when that is not nil.
func sysProcAttr(cmd *exec.Cmd, cred *credential) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: cred}
}

// The signals of [Node.Pause] and [Node.Resume].
const (
	sigStop = syscall.SIGSTOP
	sigCont = syscall.SIGCONT
)
