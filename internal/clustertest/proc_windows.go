package clustertest

import (
	"os/exec"
	"syscall"
)

// credential is the user a process runs as; Windows processes run as the
// test's own user.
type credential struct{ Uid, Gid uint32 }

func newCredential(uint32, uint32) *credential { return nil }

// sysProcAttr does nothing on Windows: the cluster's Close stops every
// process.
func sysProcAttr(*exec.Cmd, *credential) {}

// The signals of [Node.Pause] and [Node.Resume]: Windows has neither, so
// sending them fails.
const (
	sigStop = syscall.Signal(0x13)
	sigCont = syscall.Signal(0x12)
)
