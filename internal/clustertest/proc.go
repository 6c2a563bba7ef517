package clustertest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/fgac-go/fgac/internal/spicedbtest"
)

// process is one run of a binary: PostgreSQL or a SpiceDB node.
type process struct {
	name string
	cmd  *exec.Cmd
	log  *spicedbtest.TailBuffer
	done chan struct{} // closed when the process has exited
	err  error         // the exit status; read only after done is closed
}

// launch starts the command with its output kept in a tail buffer, tied to
// the life of the test binary (see sysProcAttr) and run as cred if it is
// not nil. env is added to this process's environment: secrets go there,
// never into args, because any local user can read a process's command
// line (/proc/PID/cmdline) but only its owner its environment.
func launch(name string, cred *credential, env []string, bin string, args ...string) (*process, error) {
	cmd := exec.Command(bin, args...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	p := &process{name: name, cmd: cmd, log: &spicedbtest.TailBuffer{Max: 64 << 10}, done: make(chan struct{})}
	cmd.Stdout = p.log
	cmd.Stderr = p.log
	cmd.WaitDelay = stopTimeout
	sysProcAttr(cmd, cred)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("clustertest: start %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig and waits up to stopTimeout for the process to exit,
// then kills it.
func (p *process) signal(sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			<-p.done
			return nil
		}
		return p.kill()
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(stopTimeout):
		if err := p.kill(); err != nil {
			return err
		}
		return fmt.Errorf("clustertest: %s ignored %v and was killed\n%s", p.name, sig, p.log)
	}
}

// kill sends SIGKILL and waits for the process to exit.
func (p *process) kill() error {
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("clustertest: kill %s: %w", p.name, err)
	}
	<-p.done
	return nil
}
