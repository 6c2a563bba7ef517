//go:build !linux

package spicedbtest

import "os/exec"

// dieWithParent does nothing where the kernel cannot tie a child's life to
// its parent's; [Run] still stops the server when the tests end.
func dieWithParent(*exec.Cmd) {}
