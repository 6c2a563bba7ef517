package memadapter_test

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/memadapter"
)

// The crash test runs a child process (this test binary, re-executed with
// childEnv set; see TestMain) that writes to a durable engine from several
// goroutines and reports every acknowledged write on stdout, kills it with
// SIGKILL at a random moment, reopens the file and checks it against a
// model: every acknowledged write is there, no write is partly there, and
// the file always opens. -crash.cycles runs more cycles.
var crashCycles = flag.Int("crash.cycles", 200, "kill/reopen cycles of TestDurableSurvivesSIGKILL")

const (
	// childEnv names the role of a child process.
	childEnv = "FGAC_MEMADAPTER_CHILD"
	// crashWriters is how many goroutines of a child write concurrently.
	crashWriters = 8
	// crashDocs is how many documents each writer writes to.
	crashDocs = 6
	// maxKillDelay bounds how long a child writes before it is killed.
	maxKillDelay = 40 * time.Millisecond
)

const crashSchema = `
definition user {}

definition folder {
	relation owner: user
}

definition doc {
	relation parent: folder
	relation owner: user
	relation viewer: user | user:*
	permission read = owner + viewer + parent->owner
}
`

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "crash", "ack-before-commit":
		crashChild(os.Getenv(childEnv) == "ack-before-commit")
	default:
		if !runOtherChild(os.Getenv(childEnv)) {
			fmt.Fprintf(os.Stderr, "unknown child role %q\n", os.Getenv(childEnv))
			os.Exit(2)
		}
	}
	os.Exit(0)
}

// crashOp is one write of a writer.
type crashOp struct {
	kind    int // 0 register, 1 grant, 2 revoke, 3 write, 4 deregister
	doc     string
	owner   string
	touch   []authz.Relationship
	del     []authz.Relationship
	request authz.RegisterRequest
}

// crashOps returns the generator of writer w's writes in a cycle: the
// child and the checker call it with the same seed and get the same
// writes.
func crashOps(seed uint64, w int) func() crashOp {
	rng := rand.New(rand.NewPCG(seed, uint64(w)))
	viewer := func(n int) authz.Relationship {
		return authz.Relationship{Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "v" + strconv.Itoa(n)}}
	}
	folder := authz.Resource{Type: "folder", ID: fmt.Sprintf("w%d-f", w)}
	return func() crashOp {
		op := crashOp{kind: rng.IntN(5), doc: fmt.Sprintf("w%d-d%d", w, rng.IntN(crashDocs))}
		res := authz.Resource{Type: "doc", ID: op.doc}
		on := func(rs ...authz.Relationship) []authz.Relationship {
			for i := range rs {
				rs[i].Resource = res
			}
			return rs
		}
		switch op.kind {
		case 0:
			op.request = authz.RegisterRequest{Resource: res, Owner: authz.Subject{Type: "user", ID: "u" + strconv.Itoa(rng.IntN(2))}, Parent: &folder}
		case 1:
			op.touch = on(viewer(rng.IntN(6)))
		case 2:
			op.del = on(viewer(rng.IntN(6)))
		case 3:
			p := rng.Perm(6)
			op.touch = on(viewer(p[0]), viewer(p[1]), authz.Relationship{Relation: "viewer", Subject: authz.Wildcard("user")})
			op.del = on(viewer(p[2]), viewer(p[3]))
			if rng.IntN(2) == 0 {
				op.touch, op.del = op.touch[:2], append(op.del, on(authz.Relationship{Relation: "viewer", Subject: authz.Wildcard("user")})...)
			}
		}
		return op
	}
}

// apply runs op on a.
func (op crashOp) apply(ctx context.Context, a *memadapter.Authorizer) (authz.Token, error) {
	switch op.kind {
	case 0:
		return a.Register(ctx, op.request)
	case 1:
		return a.Grant(ctx, authz.GrantRequest{Relationship: op.touch[0]})
	case 2:
		return a.Revoke(ctx, authz.GrantRequest{Relationship: op.del[0]})
	case 3:
		return a.Write(ctx, authz.WriteRequest{Touch: op.touch, Delete: op.del})
	}
	return a.Deregister(ctx, authz.DeregisterRequest{Resource: authz.Resource{Type: "doc", ID: op.doc}})
}

// model applies op to a writer's relationships as the engine must,
// reporting whether a registration conflicts.
func (op crashOp) model(rels map[string]bool) (conflict bool) {
	prefix := "doc:" + op.doc + "#"
	ofDoc := func() []string {
		var out []string
		for r := range rels {
			if strings.HasPrefix(r, prefix) {
				out = append(out, r)
			}
		}
		slices.Sort(out)
		return out
	}
	switch op.kind {
	case 0:
		want := relStrings(op.request.Relationships())
		slices.Sort(want)
		if have := ofDoc(); len(have) > 0 {
			return !slices.Equal(have, want)
		}
		for _, r := range want {
			rels[r] = true
		}
	case 4:
		for _, r := range ofDoc() {
			delete(rels, r)
		}
	default:
		for _, r := range op.del {
			delete(rels, r.String())
		}
		for _, r := range op.touch {
			rels[r.String()] = true
		}
	}
	return false
}

// crashChild writes to the engine in FGAC_CRASH_PATH until it is killed.
// With ackBeforeCommit it reports each write before making it: the broken
// variant that the checker must catch.
func crashChild(ackBeforeCommit bool) {
	seed, _ := strconv.ParseUint(os.Getenv("FGAC_CRASH_SEED"), 10, 64)
	a, err := memadapter.Open(os.Getenv("FGAC_CRASH_PATH"), crashSchema, nil)
	if err != nil {
		fmt.Printf("fail open %v\n", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		os.Stdout.WriteString(fmt.Sprintf(format, args...) + "\n")
	}
	say("ready")
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range crashWriters {
		wg.Go(func() {
			next := crashOps(seed, w)
			for i := 0; ; i++ {
				op := next()
				if ackBeforeCommit {
					say("ack %d %d 0 unknown", w, i)
				}
				tok, err := op.apply(ctx, a)
				outcome := "ok"
				switch {
				case errors.Is(err, authz.ErrConflict):
					outcome = "conflict"
				case err != nil:
					say("fail %d %d %v", w, i, err)
					return
				}
				if !ackBeforeCommit {
					rev := "0"
					if err == nil {
						rev = strings.TrimPrefix(tok.Value(), "mem:")
					}
					say("ack %d %d %s %s", w, i, rev, outcome)
				}
			}
		})
	}
	wg.Wait()
	os.Exit(1)
}

// crashChecker holds the model of the file across cycles.
type crashChecker struct {
	path string
	// rels are the relationships of each writer.
	rels [crashWriters]map[string]bool
	// maxRev is the highest revision acknowledged so far.
	maxRev uint64
}

// crashCycle is what one child reported.
type crashCycle struct {
	seed  uint64
	acked [crashWriters]int // how many writes of each writer were acknowledged
	// outcomes are the acknowledged outcomes, "ok" or "conflict", by writer.
	outcomes [crashWriters][]string
	minRev   uint64
	maxRev   uint64
	failures []string
}

// runCycle starts a child in role, kills it after a random delay and
// returns what it reported.
func runCycle(t *testing.T, role, path string, seed uint64, rng *rand.Rand) crashCycle {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+role, "FGAC_CRASH_PATH="+path, "FGAC_CRASH_SEED="+strconv.FormatUint(seed, 10))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := crashCycle{seed: seed, minRev: ^uint64(0)}
	sc := bufio.NewScanner(stdout)
	ready := false
	if sc.Scan() {
		ready = sc.Text() == "ready"
		if !ready {
			c.failures = append(c.failures, sc.Text())
		}
	}
	if ready {
		time.Sleep(time.Duration(rng.Int64N(int64(maxKillDelay))))
	}
	cmd.Process.Kill()
	for sc.Scan() {
		var w, i int
		var rev uint64
		var outcome string
		line := sc.Text()
		if _, err := fmt.Sscanf(line, "ack %d %d %d %s", &w, &i, &rev, &outcome); err != nil {
			c.failures = append(c.failures, line)
			continue
		}
		if i != c.acked[w] {
			c.failures = append(c.failures, fmt.Sprintf("writer %d acknowledged write %d after %d", w, i, c.acked[w]))
		}
		c.acked[w]++
		c.outcomes[w] = append(c.outcomes[w], outcome)
		if outcome == "ok" && rev > 0 {
			c.minRev, c.maxRev = min(c.minRev, rev), max(c.maxRev, rev)
		}
	}
	cmd.Wait()
	if !ready {
		c.failures = append(c.failures, "the child did not start")
	}
	return c
}

// check reopens the file after cycle c and compares it with the model; it
// returns what it found wrong. The model advances to what the file holds
// when that is allowed.
func (k *crashChecker) check(t *testing.T, c crashCycle) []string {
	t.Helper()
	problems := slices.Clone(c.failures)
	a, err := memadapter.Open(k.path, crashSchema, nil)
	if err != nil {
		return append(problems, fmt.Sprintf("the file does not open: %v", err))
	}
	defer a.Close()
	got := map[int]map[string]bool{}
	for _, r := range dump(t, a) {
		var w int
		if _, err := fmt.Sscanf(r, "doc:w%d-", &w); err != nil || w < 0 || w >= crashWriters {
			problems = append(problems, "unexpected relationship "+r)
			continue
		}
		if got[w] == nil {
			got[w] = map[string]bool{}
		}
		got[w][r] = true
	}
	if c.maxRev > 0 {
		// A registration retried without writing answers the current
		// revision, so a token may equal the last one, never precede it.
		if c.minRev < k.maxRev {
			problems = append(problems, fmt.Sprintf("token revision %d after a reopening, but %d was acknowledged before", c.minRev, k.maxRev))
		}
		k.maxRev = c.maxRev
	}
	for w := range crashWriters {
		next := crashOps(c.seed, w)
		state := k.rels[w]
		for i := range c.acked[w] {
			conflict := next().model(state)
			if o := c.outcomes[w][i]; o != "unknown" && conflict != (o == "conflict") {
				problems = append(problems, fmt.Sprintf("writer %d write %d: acknowledged %s, the model says conflict=%v", w, i, c.outcomes[w][i], conflict))
			}
		}
		if equalSets(got[w], state) {
			continue
		}
		// The write in flight at the kill may have been committed.
		next().model(state)
		if equalSets(got[w], state) {
			continue
		}
		problems = append(problems, fmt.Sprintf("writer %d after %d acknowledged writes: the file holds %v, want the state after write %d or %d", w, c.acked[w], sortedKeys(got[w]), c.acked[w], c.acked[w]+1))
		k.rels[w] = got[w]
		if k.rels[w] == nil {
			k.rels[w] = map[string]bool{}
		}
	}
	return problems
}

func equalSets(x, y map[string]bool) bool {
	if len(x) != len(y) {
		return false
	}
	for k := range x {
		if !y[k] {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func newCrashChecker(t *testing.T) *crashChecker {
	k := &crashChecker{path: filepath.Join(t.TempDir(), "graph.db")}
	for w := range k.rels {
		k.rels[w] = map[string]bool{}
	}
	return k
}

// TestDurableSurvivesSIGKILL kills a child writing concurrently to a
// durable engine at random moments, -crash.cycles times, on the same file:
// after each kill the file opens, every acknowledged write is in it, the
// write in flight is wholly there or wholly absent, and tokens keep
// increasing.
func TestDurableSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	k := newCrashChecker(t)
	base := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(base, 1))
	acked := 0
	for cycle := range *crashCycles {
		c := runCycle(t, "crash", k.path, base+uint64(cycle), rng)
		for _, n := range c.acked {
			acked += n
		}
		if problems := k.check(t, c); len(problems) > 0 {
			t.Fatalf("cycle %d (seed %d): %s", cycle, c.seed, strings.Join(problems, "\n"))
		}
	}
	t.Logf("%d kill/reopen cycles, %d acknowledged writes checked", *crashCycles, acked)
	if acked < *crashCycles {
		t.Errorf("only %d writes were acknowledged in %d cycles; the children barely wrote", acked, *crashCycles)
	}
}

// TestCrashCheckerCatchesEarlyAcknowledgement runs the same cycles with a
// child that acknowledges each write before making it: the checker must
// find an acknowledged write missing after some kill.
func TestCrashCheckerCatchesEarlyAcknowledgement(t *testing.T) {
	t.Parallel()
	k := newCrashChecker(t)
	base := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(base, 2))
	const maxCycles = 60
	for cycle := range maxCycles {
		c := runCycle(t, "ack-before-commit", k.path, base+uint64(cycle), rng)
		if problems := k.check(t, c); len(problems) > 0 {
			t.Logf("caught after %d cycles: %s", cycle+1, problems[0])
			return
		}
	}
	t.Fatalf("%d cycles of a child that acknowledges before committing went unnoticed", maxCycles)
}

// runOtherChild runs the roles of other tests' children; see misuse_test.go.
func runOtherChild(role string) bool {
	switch role {
	case "hold":
		holdChild()
	case "readonly":
		readOnlyChild()
	case "fsize":
		fileSizeChild()
	default:
		return false
	}
	return true
}
