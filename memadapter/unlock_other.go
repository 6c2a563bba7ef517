//go:build !unix

package memadapter

import "os"

// unlock does nothing here: closing f releases bbolt's lock.
func unlock(*os.File) {}
