//go:build unix

package memadapter

import (
	"os"
	"syscall"
)

// unlock releases bbolt's lock on f (a flock, which belongs to the open
// file and so outlives f's descriptor while a mapping holds the file).
func unlock(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
