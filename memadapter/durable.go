package memadapter

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/fgac-go/fgac/authz"
)

// DefaultLockTimeout is how long [Open] waits for another process to
// release the file when Options.LockTimeout is zero.
const DefaultLockTimeout = time.Second

// Options configure [Open]. A nil *Options, like a zero Options, consists
// entirely of default values.
type Options struct {
	// LockTimeout is how long Open waits for another process (or another
	// open Authorizer) holding the file to release it before failing
	// ([DefaultLockTimeout] if zero).
	LockTimeout time.Duration

	// Now is the clock relationship expirations are compared with, as
	// [Config].Now; nil means time.Now.
	Now func() time.Time
}

// The file is a bbolt database (go.etcd.io/bbolt) with two buckets:
//
//   - "relationships": one key per relationship, its six parts (resource
//     type, resource id, relation, subject type, subject id, subject
//     relation) joined by NUL bytes, which no part may contain. The value
//     is sealed (see seal): a checksum, then a body that is empty for a
//     relationship without caveat or expiration, and otherwise
//     valueVersion, the expiration (8 bytes, big-endian Unix nanoseconds
//     as a signed number; 0 if none), the caveat name's length (a uvarint;
//     0 if none), the name, and the caveat's stored context as a JSON
//     object (absent if empty). The keys of one resource share the prefix
//     "type\x00id\x00", so a registration reads them with one cursor seek.
//   - "meta": "format" (formatChecked), "revision" (sealed, 8 bytes,
//     big-endian: the revision of the last write, which tokens carry) and
//     "schema" (sealed: the schema text the file was last opened with).
//
// bbolt checks the structure of its pages, not the bytes of their keys
// and values: a flipped bit in a subject id would move a grant to another
// subject without a word. Every value therefore carries a CRC-32C of its
// key and its body, which Open verifies for every relationship.
var (
	bucketRelationships = []byte("relationships")
	bucketMeta          = []byte("meta")
	keyFormat           = []byte("format")
	keyRevision         = []byte("revision")
	keySchema           = []byte("schema")
)

// formatChecked is the layout described above. formatVersion and
// formatConditional are the layouts of earlier builds, without checksums
// (formatConditional once a caveated or expiring relationship was
// written, so that a build that ignored values refused the file): Open
// reads them and rewrites them as formatChecked, in one transaction, so
// that a crash leaves the old file or the new one. A build that does not
// know formatChecked refuses it.
const (
	formatVersion     = "fgac-memadapter-1"
	formatConditional = "fgac-memadapter-2"
	formatChecked     = "fgac-memadapter-3"
)

// castagnoli is the CRC-32C table (hardware-accelerated where the CPU
// has it).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// seal returns the value stored under key for body: the CRC-32C of key
// and body (4 bytes, big-endian), then body.
func seal(key, body []byte) []byte {
	v := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(v, sealSum(key, body))
	return append(v, body...)
}

// unseal returns the body of v, the value stored under key, reporting
// whether its checksum holds.
func unseal(key, v []byte) ([]byte, bool) {
	if len(v) < 4 {
		return nil, false
	}
	return v[4:], binary.BigEndian.Uint32(v) == sealSum(key, v[4:])
}

// sealSum is the checksum seal stores.
func sealSum(key, body []byte) uint32 {
	return crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, body)
}

// store is the durable half of an Authorizer opened on a file.
//
// Writes are group-committed: a writer validates its request, queues it,
// and takes commitMu; the writer that gets commitMu first commits every
// queued request in one bbolt transaction (one fsync), prepares them for
// the in-memory indexes and publishes them in the same order as one new
// version of the relationships (see index.go), and hands each waiter its
// result. Writers that queued while a commit was
// syncing find their request done when they get commitMu, so concurrent
// writers share fsyncs without a goroutine of the store's own. Requests
// decide (a registration's conflict, a deregistration's relationships)
// inside the transaction, which sees the requests before them in the
// batch; memory, applied afterwards in the same order, agrees with disk.
// Readers take no lock: they read the version current when they start,
// so they wait for nothing, and they never see a write that is not on
// disk.
type store struct {
	path string

	// qmu guards queue and closed.
	qmu    sync.Mutex
	queue  []*pending
	closed bool
	// closing is closed by Close, which stops running Backups.
	closing chan struct{}

	// commitMu is held while a batch is committed and applied; it guards
	// db, failed and the results of pending requests.
	commitMu sync.Mutex
	db       *bolt.DB
	// failed is the error of a failed commit. After it every write fails:
	// once an fsync has failed, the kernel may have dropped the pages it
	// could not write, so nothing written since can be trusted to reach
	// the disk (PostgreSQL's "fsyncgate"); the engine must be reopened,
	// which reads what is really on disk.
	failed error
}

// opKind is the kind of a queued write.
type opKind uint8

const (
	opWrite opKind = iota + 1
	opRegister
	opDeregister
)

// pending is a validated write waiting to be committed.
type pending struct {
	kind opKind
	// resource is the registered or deregistered resource.
	resource authz.Resource
	// touch and del are the relationships a write touches and deletes, or
	// those a registration writes.
	touch, del []authz.Relationship

	// done, tok and err are set by the committer, under commitMu.
	done bool
	tok  authz.Token
	err  error
	// removed are the relationships a deregistration found; written
	// reports whether the request changes the graph.
	removed []authz.Relationship
	written bool
}

// errClosed is the error of a write to a closed Authorizer.
var errClosed = fmt.Errorf("memadapter: the authorizer is closed: %w", authz.ErrUnavailable)

// Open returns an Authorizer for schemaText (parsed as by [New]) whose
// relationships are kept in the file at path, created if it does not
// exist. Every write it acknowledges (Write, Grant, Revoke, Register,
// Deregister) is on stable storage before it returns, a write of many
// relationships is atomic on disk as in memory, and tokens keep increasing
// across reopenings. Concurrent writers share fsyncs. Reads are answered
// from memory, as by an Authorizer from [New].
//
// Open loads every stored relationship and validates it against
// schemaText: if the schema no longer allows some of them (a removed
// relation or type that still has relationships, a subject type, caveat or
// expiration no longer allowed, a stored caveat context its caveat no
// longer accepts) it refuses, with an error matching [authz.ErrInvalidRequest]
// that says what and how many, and leaves the file untouched. A file that
// another process (or another open Authorizer) holds is an error matching
// [authz.ErrUnavailable] after opts.LockTimeout; a file that is not an
// Authorizer's, or is corrupt or truncated, is an error naming the file
// that matches [authz.ErrUnavailable]. Nothing is loaded partially.
//
// A new file is created only where nothing is at path, and atomically (a
// crash leaves no file or a whole one): an existing empty file, a file of
// another program (a bbolt file without this package's buckets among
// them), or a symbolic link to nothing is an error naming the file that
// matches [authz.ErrUnavailable], and is left as it is.
//
// Some damage cannot be detected, by bbolt or by Open. bbolt keeps two
// meta pages with checksums and uses the newer valid one: if the newest
// is damaged, Open falls back to the one before, and the last committed
// write is lost without an error. bbolt has no checksums of its data
// pages: a changed byte in a stored key or value opens as a different
// relationship (or, if it breaks the page's structure, is an error). Keep
// [Authorizer.Backup] copies on other storage; an engine restored from one
// answers as of the copy, and its tokens continue from the copy's
// revision.
//
// Call [Authorizer.Close] to release the file.
func Open(path, schemaText string, opts *Options) (*Authorizer, error) {
	if opts == nil {
		opts = &Options{}
	}
	if opts.LockTimeout < 0 {
		return nil, invalidf("negative lock timeout")
	}
	a, err := NewWithConfig(schemaText, Config{Now: opts.Now})
	if err != nil {
		return nil, err
	}
	s := &store{path: path, closing: make(chan struct{})}
	if err := s.open(a, schemaText, cmp.Or(opts.LockTimeout, DefaultLockTimeout)); err != nil {
		return nil, err
	}
	a.store = s
	return a, nil
}

// open opens the file and loads it into a.
//
// bbolt trusts its pages: a damaged page can make it panic, and a file
// truncated below its pages makes reading the mapping fault. Both become
// an error naming the file (debug.SetPanicOnFault turns the fault into a
// panic, for this goroutine only).
func (s *store) open(a *Authorizer, schemaText string, timeout time.Duration) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	// file is the descriptor bbolt opened: a panic inside bolt.Open leaves
	// no db to close, and the descriptor, its lock and its mapping would
	// stay until the process exits. Closing it is not enough to let go of
	// the lock while bbolt's mapping holds the file (flock belongs to the
	// open file, which the mapping keeps): it is unlocked first. The
	// mapping itself (address space, not memory) stays.
	var file *os.File
	defer func() {
		if p := recover(); p != nil {
			if s.db != nil {
				s.db.Close()
				s.db = nil
			} else if file != nil {
				unlock(file)
				file.Close()
			}
			err = s.corruptf("%v", p)
		}
	}()
	exists, err := s.exists()
	if err != nil {
		return err
	}
	if !exists {
		if err := s.create(); err != nil {
			return err
		}
	}
	s.db, err = bolt.Open(s.path, 0o600, &bolt.Options{
		Timeout:         timeout,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: initialMmapSize(s.path),
		// The file exists: create creates it whole, or not at all.
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag&^os.O_CREATE, perm)
			file = f
			return f, err
		},
	})
	if err != nil {
		s.db = nil
		return openError(s.path, err, timeout)
	}
	if err := s.load(a, schemaText); err != nil {
		s.db.Close()
		s.db = nil
		return err
	}
	return nil
}

// exists reports whether something is at s.path. A new file is created
// only where nothing is: an empty file (what a failed copy or restore may
// leave) is an error, not an empty graph, and so is a symbolic link to
// nothing, whose target a new file would silently create.
func (s *store) exists() (bool, error) {
	fi, err := os.Lstat(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, openError(s.path, err, 0)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		fi, err = os.Stat(s.path)
		if errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("memadapter: open %s: a symbolic link to a file that does not exist (a new file is created only where nothing is): %w", s.path, authz.ErrUnavailable)
		}
		if err != nil {
			return false, openError(s.path, err, 0)
		}
	}
	if fi.Mode().IsRegular() && fi.Size() == 0 {
		return false, s.corruptf("the file is empty, not an fgac memadapter file (a new file is created only where nothing is; an empty one may be what a failed copy or restore left)")
	}
	return true, nil
}

// create makes a new file at s.path holding an empty graph, atomically: it
// writes the file under a temporary name in the same directory, syncs it,
// and links it to s.path, so that a crash leaves either no file at s.path
// or a whole one (never an empty or half-written file that a later Open
// would refuse). If another process created s.path meanwhile, its file is
// used.
func (s *store) create() error {
	dir := filepath.Dir(s.path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(s.path)+".new-*")
	if err != nil {
		return fmt.Errorf("memadapter: create %s: %w: %w", s.path, authz.ErrUnavailable, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Close(); err != nil {
		return fmt.Errorf("memadapter: create %s: %w: %w", s.path, authz.ErrUnavailable, err)
	}
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType})
	if err != nil {
		return fmt.Errorf("memadapter: create %s: %w: %w", s.path, authz.ErrUnavailable, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketRelationships); err != nil {
			return err
		}
		if err := meta.Put(keyFormat, []byte(formatChecked)); err != nil {
			return err
		}
		return meta.Put(keyRevision, seal(keyRevision, revisionBytes(0)))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if err = os.Link(tmp, s.path); errors.Is(err, fs.ErrExist) {
			return nil
		}
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("memadapter: create %s: %w: %w", s.path, authz.ErrUnavailable, err)
	}
	return nil
}

// syncDir makes the entries of directory dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// initialMmapSize returns the size of the address space bbolt maps the
// file at path into when it opens it: at least 1 GiB, and twice the file,
// on 64-bit systems other than Windows; 0 (bbolt's default, the file's
// size rounded up) elsewhere.
//
// bbolt reads pages through that mapping. When a commit needs the file to
// grow past it, bbolt remaps, and a remap waits for every read
// transaction to end: a Backup into a slow writer would block every write
// that grows the file until it finished. While the file fits the mapping,
// readers never block writers (bbolt's own advice). Address space is
// cheap on 64-bit systems: the mapping takes no memory beyond the pages
// read, and the file does not grow with it (it does on Windows, hence the
// exception).
func initialMmapSize(path string) int {
	if strconv.IntSize < 64 || runtime.GOOS == "windows" {
		return 0
	}
	size := 1 << 30
	if fi, err := os.Stat(path); err == nil && fi.Size() < 1<<40 && int(2*fi.Size()) > size {
		size = int(2 * fi.Size())
	}
	return size
}

// openError describes a failure of bolt.Open on path.
func openError(path string, err error, timeout time.Duration) error {
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return fmt.Errorf("memadapter: open %s: the file is in use by another process or authorizer (waited %v): %w", path, timeout, authz.ErrUnavailable)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum), errors.Is(err, bolterrors.ErrVersionMismatch):
		return fmt.Errorf("memadapter: open %s: not a database or corrupt: %w: %w", path, authz.ErrUnavailable, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("memadapter: open %s: permission denied (the file must be readable and writable): %w: %w", path, authz.ErrUnavailable, err)
	}
	return fmt.Errorf("memadapter: open %s: %w: %w", path, authz.ErrUnavailable, err)
}

// corruptf returns the error of a damaged file.
func (s *store) corruptf(format string, args ...any) error {
	return fmt.Errorf("memadapter: open %s: corrupt or truncated database: %s: %w", s.path, fmt.Sprintf(format, args...), authz.ErrUnavailable)
}

// load reads the file into a's indexes, validating every relationship
// against a's schema, and records schemaText in the file. It reads in a
// read-only transaction first, so that a refused schema or a damaged file
// leaves the file as it was.
func (s *store) load(a *Authorizer, schemaText string) error {
	checked := false
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		rels := tx.Bucket(bucketRelationships)
		// bbolt reads pages through a mapping larger than the file (see
		// initialMmapSize), and finds no truncation itself.
		if fi, err := os.Stat(s.path); err != nil {
			return openError(s.path, err, 0)
		} else if fi.Size() < tx.Size() {
			return s.corruptf("the file has %d bytes, its pages need %d", fi.Size(), tx.Size())
		}
		if meta == nil || rels == nil {
			return s.corruptf("not an fgac memadapter file (buckets missing)")
		}
		switch f := meta.Get(keyFormat); string(f) {
		case formatChecked:
			checked = true
		case formatVersion, formatConditional:
		default:
			return s.corruptf("unknown format %q (want %q)", f, formatChecked)
		}
		rev := meta.Get(keyRevision)
		if checked {
			var ok bool
			if rev, ok = unseal(keyRevision, rev); !ok {
				return s.corruptf("the revision fails its checksum")
			}
		}
		if len(rev) != 8 {
			return s.corruptf("malformed revision")
		}
		a.revision = binary.BigEndian.Uint64(rev)
		return s.loadRelationships(a, rels, checked)
	})
	if err != nil {
		return err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if !checked {
			if err := sealAll(tx.Bucket(bucketRelationships)); err != nil {
				return err
			}
			if err := meta.Put(keyRevision, seal(keyRevision, revisionBytes(a.revision))); err != nil {
				return err
			}
			if err := meta.Put(keyFormat, []byte(formatChecked)); err != nil {
				return err
			}
		}
		if stored, ok := unseal(keySchema, meta.Get(keySchema)); checked && ok && bytes.Equal(stored, []byte(schemaText)) {
			return nil
		}
		return meta.Put(keySchema, seal(keySchema, []byte(schemaText)))
	})
	if err != nil {
		return fmt.Errorf("memadapter: open %s: %w: %w", s.path, authz.ErrUnavailable, err)
	}
	return nil
}

// sealAll seals every value of b, a bucket of relationships written
// without checksums, in batches: bbolt's cursor is not to be trusted
// across a put, so each batch is read first and written after, and the
// next one starts past its last key.
func sealAll(b *bolt.Bucket) error {
	const batch = 10_000
	type kv struct{ k, v []byte }
	var after []byte
	for {
		c := b.Cursor()
		k, v := c.First()
		if after != nil {
			if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
				k, v = c.Next()
			}
		}
		var todo []kv
		for ; k != nil && len(todo) < batch; k, v = c.Next() {
			todo = append(todo, kv{k: bytes.Clone(k), v: seal(k, v)})
		}
		for _, e := range todo {
			if err := b.Put(e.k, e.v); err != nil {
				return err
			}
		}
		if len(todo) < batch {
			return nil
		}
		after = todo[len(todo)-1].k
	}
}

// loadRelationships adds every relationship of bucket b to a's indexes,
// validating each against a's schema; checked says that b's values are
// sealed, and each must pass its checksum.
func (s *store) loadRelationships(a *Authorizer, b *bolt.Bucket, checked bool) error {
	// The keys are sorted by resource, so consecutive keys mostly share
	// theirs; an id is copied out of the file only for a new object.
	// Validation depends only on the shape of a relationship (its nodes
	// and subject type), so it runs once per shape.
	type shape struct {
		n          *node
		sd         *definition
		srel       *node
		wildcard   bool
		caveat     string
		expiration bool
	}
	verdicts := map[shape]error{}
	stranded := map[string]int{}
	var parts [6][]byte
	var (
		res      objID
		resDef   *definition
		resBytes []byte
	)
	g := a.cur.Load().next()
	var ids idArena
	lastSub := make([]struct {
		o  objID
		id []byte
	}, len(a.num.open))
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if checked {
			var ok bool
			if v, ok = unseal(k, v); !ok {
				return s.corruptf("a stored relationship fails its checksum (damaged bytes)")
			}
		}
		if !splitKey(k, &parts) {
			return s.corruptf("malformed relationship key")
		}
		val, ok := decodeValue(v)
		if !ok {
			return s.corruptf("malformed relationship value")
		}
		d, sd := a.defs[string(parts[0])], a.defs[string(parts[3])]
		var n, srel *node
		if d != nil {
			n = d.nodes[string(parts[2])]
		}
		if sd != nil && len(parts[5]) > 0 {
			srel = sd.nodes[string(parts[5])]
		}
		wildcard := string(parts[4]) == authz.WildcardID && len(parts[5]) == 0
		sh := shape{n: n, sd: sd, srel: srel, wildcard: wildcard, caveat: val.caveat, expiration: val.expires != 0}
		verdict, ok := verdicts[sh]
		if !ok || n == nil || sd == nil || (srel == nil && len(parts[5]) > 0) {
			r := authz.Relationship{
				Resource: authz.Resource{Type: string(parts[0]), ID: string(parts[1])},
				Relation: string(parts[2]),
				Subject:  subject{typ: string(parts[3]), id: string(parts[4]), rel: string(parts[5])}.public(),
				Caveat:   authz.Caveat{Name: val.caveat},
			}
			if val.expires != 0 {
				r.Expiration = time.Unix(0, val.expires)
			}
			verdict = a.validateShape(r)
			if verdict == nil {
				verdicts[sh] = nil
			}
		}
		var e edge
		if verdict == nil && val != (storedValue{}) {
			e.expires = val.expires
			if val.caveat != "" {
				cv := a.schema.Caveat(val.caveat)
				ctx, err := decodeContext(val.context)
				if err != nil {
					return s.corruptf("malformed caveat context in a relationship of relation %q of %q", n.name, d.name)
				}
				if err := cv.CheckContext(ctx); err != nil {
					verdict = invalidf("a stored context of caveat %q that the caveat no longer accepts, on relation %q of %q", val.caveat, n.name, d.name)
				}
				e.caveat = &storedCaveat{def: cv, ctx: ctx}
			}
		}
		if verdict != nil {
			stranded[verdict.Error()]++
			continue
		}
		if !authz.ValidID(unsafeString(parts[1])) || !wildcard && !authz.ValidID(unsafeString(parts[4])) {
			return s.corruptf("malformed id in a relationship of relation %q of %q", n.name, d.name)
		}
		if res == 0 || d != resDef || !bytes.Equal(parts[1], resBytes) {
			res, resDef, resBytes = g.objectBytes(&a.num, d, parts[1], &ids), d, parts[1]
		}
		// A subject often recurs a few keys later (a parent agent of
		// consecutive tasks): each type remembers its last.
		ls := &lastSub[sd.idx]
		if ls.o == 0 || !bytes.Equal(ls.id, parts[4]) {
			ls.o, ls.id = g.objectBytes(&a.num, sd, parts[4], &ids), parts[4]
		}
		t := target{obj: ls.o}
		if srel != nil {
			t.rel = srel.id
		}
		g.link(&a.num, res, n, t, e)
	}
	if len(stranded) == 0 {
		a.publish(g, a.revision)
		return nil
	}
	total := 0
	reasons := make([]string, 0, len(stranded))
	for msg, n := range stranded {
		total += n
		msg = strings.TrimSuffix(strings.TrimPrefix(msg, "memadapter: "), ": "+authz.ErrInvalidRequest.Error())
		reasons = append(reasons, fmt.Sprintf("%d with %s", n, msg))
	}
	slices.Sort(reasons)
	return fmt.Errorf("memadapter: open %s: the schema does not allow %d stored relationships (%s); nothing was changed: restore the relations they need or delete them with the old schema first: %w",
		s.path, total, strings.Join(reasons, "; "), authz.ErrInvalidRequest)
}

// validateShape checks r against the schema as validateRelationship does,
// except for its ids, with an error that names only schema vocabulary.
func (a *Authorizer) validateShape(r authz.Relationship) error {
	d := a.defs[r.Resource.Type]
	switch {
	case d == nil:
		return invalidf("resource type %q, which the schema no longer defines", r.Resource.Type)
	case d.nodes[r.Relation] == nil:
		return invalidf("relation %q of %q, which the schema no longer defines", r.Relation, r.Resource.Type)
	case d.nodes[r.Relation].rel == nil:
		return invalidf("relation %q of %q, which the schema now defines as a permission", r.Relation, r.Resource.Type)
	}
	sd := a.defs[r.Subject.Type]
	switch {
	case sd == nil:
		return invalidf("subjects of type %s on relation %q of %q, a type the schema no longer defines", subjectType(r), r.Relation, r.Resource.Type)
	case r.Subject.Relation != "" && sd.nodes[r.Subject.Relation] == nil:
		return invalidf("subjects of type %s on relation %q of %q, whose relation the schema no longer defines", subjectType(r), r.Relation, r.Resource.Type)
	case r.Caveat.Name != "" && a.schema.Caveat(r.Caveat.Name) == nil:
		return invalidf("caveat %q on relation %q of %q, a caveat the schema no longer defines", r.Caveat.Name, r.Relation, r.Resource.Type)
	case !d.nodes[r.Relation].rel.AllowsWith(r.Subject.Type, r.Subject.Relation, r.Subject.IsWildcard(), r.Caveat.Name, !r.Expiration.IsZero()):
		return invalidf("subjects of type %s on relation %q of %q, which the relation no longer allows", subjectType(r), r.Relation, r.Resource.Type)
	}
	return nil
}

// relationshipKey returns the key of r.
func relationshipKey(r authz.Relationship) []byte {
	k := make([]byte, 0, len(r.Resource.Type)+len(r.Resource.ID)+len(r.Relation)+len(r.Subject.Type)+len(r.Subject.ID)+len(r.Subject.Relation)+5)
	k = append(append(resourcePrefix(k, r.Resource), r.Relation...), 0)
	k = append(append(k, r.Subject.Type...), 0)
	k = append(append(k, r.Subject.ID...), 0)
	return append(k, r.Subject.Relation...)
}

// resourcePrefix appends to k the prefix of the keys of res's
// relationships.
func resourcePrefix(k []byte, res authz.Resource) []byte {
	k = append(append(k, res.Type...), 0)
	return append(append(k, res.ID...), 0)
}

// valueVersion begins the value of a relationship with a caveat or an
// expiration.
const valueVersion = 1

// storedValue is a decoded relationship value.
type storedValue struct {
	expires int64  // as edge.expires
	caveat  string // the caveat's name, or ""
	context string // its stored context as a JSON object, or ""
}

// isConditional reports whether r has a caveat or an expiration.
func isConditional(r authz.Relationship) bool { return r.Caveat.Name != "" || !r.Expiration.IsZero() }

// encodeValue returns the value stored under r's key.
func encodeValue(r authz.Relationship) []byte {
	if !isConditional(r) {
		return []byte{}
	}
	v := []byte{valueVersion}
	var exp int64
	if !r.Expiration.IsZero() {
		exp = expiresAt(r.Expiration)
	}
	v = binary.BigEndian.AppendUint64(v, uint64(exp))
	v = binary.AppendUvarint(v, uint64(len(r.Caveat.Name)))
	v = append(v, r.Caveat.Name...)
	if r.Caveat.Name != "" && r.Caveat.Context.Len() > 0 {
		// A valid context holds only JSON values, which always encode.
		b, _ := json.Marshal(r.Caveat.Context.Map())
		v = append(v, b...)
	}
	return v
}

// decodeValue decodes a stored value, reporting whether it is well formed.
func decodeValue(v []byte) (storedValue, bool) {
	if len(v) == 0 {
		return storedValue{}, true
	}
	if v[0] != valueVersion || len(v) < 10 {
		return storedValue{}, false
	}
	sv := storedValue{expires: int64(binary.BigEndian.Uint64(v[1:9]))}
	n, w := binary.Uvarint(v[9:])
	if w <= 0 {
		return storedValue{}, false
	}
	rest := v[9+w:]
	if n > uint64(len(rest)) {
		return storedValue{}, false
	}
	sv.caveat, sv.context = string(rest[:n]), string(rest[n:])
	if sv.caveat == "" && (sv.context != "" || sv.expires == 0) {
		return storedValue{}, false
	}
	return sv, true
}

// decodeContext returns the context stored as JSON in s.
func decodeContext(s string) (authz.Context, error) {
	if s == "" {
		return authz.Context{}, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return authz.Context{}, err
	}
	ctx := authz.NewContext(m)
	return ctx, ctx.Validate()
}

// splitKey splits a relationship key into its six parts.
func splitKey(k []byte, parts *[6][]byte) bool {
	for i := range 5 {
		j := bytes.IndexByte(k, 0)
		if j < 0 {
			return false
		}
		parts[i], k = k[:j], k[j+1:]
	}
	parts[5] = k
	return bytes.IndexByte(k, 0) < 0
}

// tokenAt returns the token of revision rev.
func (a *Authorizer) tokenAt(rev uint64) authz.Token {
	return authz.NewToken("mem:" + strconv.FormatUint(rev, 10))
}

func revisionBytes(rev uint64) []byte { return binary.BigEndian.AppendUint64(nil, rev) }

// submit queues p and returns its result once it is committed, committing
// it (and every write queued with it) if no other writer does first. A
// queued write is not abandoned when its context ends: its outcome would be
// unknown to the caller, and a commit takes no longer than an fsync.
func (s *store) submit(a *Authorizer, p *pending) (authz.Token, error) {
	s.qmu.Lock()
	if s.closed {
		s.qmu.Unlock()
		return authz.Token{}, errClosed
	}
	s.queue = append(s.queue, p)
	s.qmu.Unlock()

	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if !p.done {
		s.qmu.Lock()
		batch := s.queue
		s.queue = nil
		s.qmu.Unlock()
		s.commit(a, batch)
	}
	if !p.done {
		// Unreachable: every batch is finished, even by a panic.
		return authz.Token{}, fmt.Errorf("memadapter: write to %s: not committed: %w", s.path, authz.ErrInternal)
	}
	return p.tok, p.err
}

// commit writes batch in one transaction and then applies it to memory;
// the caller holds commitMu. Every request of batch is done afterwards:
// a panic (bbolt panics on some damaged pages) fails every request not yet
// done, and every later write, as a failed commit does, and is not
// propagated: the writers get an error, never a crash or an
// acknowledgement.
func (s *store) commit(a *Authorizer, batch []*pending) {
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("memadapter: write to %s: %w: panic: %v", s.path, authz.ErrInternal, r)
			s.failed = err
			for _, p := range batch {
				if !p.done {
					p.done, p.tok, p.err = true, authz.Token{}, err
				}
			}
		}
	}()
	err := s.failed
	if s.db == nil {
		err = errClosed
	}
	rev := a.revision // only writers change it, and they hold commitMu
	if err == nil {
		err = s.db.Update(func(tx *bolt.Tx) error {
			rels := tx.Bucket(bucketRelationships)
			w := &txWrites{b: rels, now: a.now()}
			for _, p := range batch {
				if err := p.decide(w); err != nil {
					return err
				}
				if p.written {
					if rev == math.MaxUint64 {
						// Only a crafted or damaged file gets here: a
						// token must never go back to 0.
						return fmt.Errorf("memadapter: the file's revision is the last there is: %w", authz.ErrInternal)
					}
					rev++
				}
				p.tok = a.tokenAt(rev)
			}
			if err := w.flush(rels); err != nil {
				return err
			}
			return tx.Bucket(bucketMeta).Put(keyRevision, seal(keyRevision, revisionBytes(rev)))
		})
		if err != nil {
			err = fmt.Errorf("memadapter: write to %s: %w: %w", s.path, authz.ErrUnavailable, err)
			s.failed = err
		}
	}
	if err != nil {
		for _, p := range batch {
			p.done, p.tok, p.err = true, authz.Token{}, err
		}
		return
	}
	a.wmu.Lock()
	defer a.wmu.Unlock()
	b := a.batch()
	defer b.reset()
	for _, p := range batch {
		if p.written {
			a.prepare(b, p.del, nil)
			a.prepare(b, p.removed, p.touch)
		}
	}
	a.publish(a.apply(b), rev)
	for _, p := range batch {
		p.done = true
	}
	a.revision = rev
}

// decide queues p's writes in w, which holds every request before p in
// its batch. A conflicting registration is p's error and writes nothing;
// an error returned fails the whole batch.
func (p *pending) decide(w *txWrites) error {
	switch p.kind {
	case opWrite:
		for _, r := range p.del {
			w.add(relationshipKey(r), nil, true)
		}
	case opRegister:
		existing := w.relationshipsIn(p.resource, false)
		if len(existing) > 0 {
			if !sameRelationships(existing, p.touch) {
				p.err = fmt.Errorf("memadapter: resource of type %q is already registered with other relationships: %w", p.resource.Type, authz.ErrConflict)
			}
			return nil
		}
	case opDeregister:
		p.removed = w.relationshipsIn(p.resource, true)
		for _, r := range p.removed {
			w.add(relationshipKey(r), nil, true)
		}
	default:
		return fmt.Errorf("memadapter: unknown write kind %d: %w", p.kind, authz.ErrInternal)
	}
	for _, r := range p.touch {
		k := relationshipKey(r)
		w.add(k, seal(k, encodeValue(r)), false)
	}
	p.written = true
	return nil
}

// txWrites holds the puts and deletes of a batch until its commit, which
// gives them to bbolt in key order.
//
// The order matters: bbolt keeps the leaves a transaction changes in
// memory until it commits, and a put into one is a slice insertion, so n
// puts in random order into one transaction take O(n²) time (80,000
// relationships in one Write: 14 s, all of it under commitMu, blocking
// every other writer), in key order O(n log n) (0.25 s). The operations
// are sorted stably, so that several on one key (a grant and a revoke of
// the same relationship group-committed together) keep their order, and
// only the last of them reaches bbolt; the state is the same as if they
// had been applied one by one.
//
// Registrations and deregistrations read the relationships of a resource
// as the requests before them in the batch left them: the bucket, then
// the queued operations on that resource's keys in order.
type txWrites struct {
	b   *bolt.Bucket
	ops []txOp
	// now is the instant, in Unix nanoseconds, at which the batch tells
	// relationships that have expired from those that have not.
	now int64
	// byResource indexes ops[:indexed] by the resource prefix of their
	// keys; it is built on the first read of a batch.
	byResource map[string][]int
	indexed    int
}

// txOp is a queued put (del false) or delete of key.
type txOp struct {
	key, value []byte
	del        bool
}

// add queues a put of key with value, or a delete of key.
func (w *txWrites) add(key, value []byte, del bool) {
	w.ops = append(w.ops, txOp{key: key, value: value, del: del})
}

// relationshipsIn returns the relationships of res as the bucket and the
// queued operations make them, in key order, with their caveat names and
// expirations; those that have expired only if expired is set (a
// registration, as in memory, finds a resource whose relationships have
// all expired without any; a deregistration deletes them too).
func (w *txWrites) relationshipsIn(res authz.Resource, expired bool) []authz.Relationship {
	if w.byResource == nil {
		w.byResource = map[string][]int{}
	}
	for ; w.indexed < len(w.ops); w.indexed++ {
		k := w.ops[w.indexed].key
		if n := keyResourcePrefixLen(k); n > 0 {
			w.byResource[string(k[:n])] = append(w.byResource[string(k[:n])], w.indexed)
		}
	}
	prefix := resourcePrefix(nil, res)
	values := map[string][]byte{} // sealed, as stored
	c := w.b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		values[string(k)] = v
	}
	for _, i := range w.byResource[string(prefix)] {
		if w.ops[i].del {
			delete(values, string(w.ops[i].key))
		} else {
			values[string(w.ops[i].key)] = w.ops[i].value
		}
	}
	var rels []authz.Relationship
	var parts [6][]byte
	for _, k := range slices.Sorted(maps.Keys(values)) {
		if !splitKey([]byte(k), &parts) {
			continue // load refused such keys
		}
		r := authz.Relationship{
			Resource: res,
			Relation: string(parts[2]),
			Subject:  subject{typ: string(parts[3]), id: string(parts[4]), rel: string(parts[5])}.public(),
		}
		// A value that fails its checksum or does not decode (load
		// refused such values) counts as a plain relationship.
		if body, ok := unseal([]byte(k), values[k]); ok {
			if sv, ok := decodeValue(body); ok {
				if sv.expires != 0 && w.now >= sv.expires && !expired {
					continue // expired: invisible, as in memory
				}
				r.Caveat.Name = sv.caveat
				if sv.expires != 0 {
					r.Expiration = time.Unix(0, sv.expires).UTC()
				}
			}
		}
		rels = append(rels, r)
	}
	return rels
}

// keyResourcePrefixLen returns the length of the prefix "type\x00id\x00"
// of a relationship key, or 0 if k has none.
func keyResourcePrefixLen(k []byte) int {
	i := bytes.IndexByte(k, 0)
	if i < 0 {
		return 0
	}
	j := bytes.IndexByte(k[i+1:], 0)
	if j < 0 {
		return 0
	}
	return i + 1 + j + 1
}

// bucketWriter is the part of a [bolt.Bucket] that flush writes to.
type bucketWriter interface {
	Put(key, value []byte) error
	Delete(key []byte) error
}

// flush gives the queued operations to b (the bucket, but for tests) in
// key order, the last operation on each key only.
func (w *txWrites) flush(b bucketWriter) error {
	slices.SortStableFunc(w.ops, func(x, y txOp) int { return bytes.Compare(x.key, y.key) })
	for i, op := range w.ops {
		if i+1 < len(w.ops) && bytes.Equal(op.key, w.ops[i+1].key) {
			continue // a later operation on the same key decides
		}
		var err error
		if op.del {
			err = b.Delete(op.key)
		} else {
			err = b.Put(op.key, op.value)
		}
		if err != nil {
			return err
		}
	}
	w.ops = nil
	return nil
}

// Close releases the file of an Authorizer from [Open], after the writes
// being committed; later writes fail with an error matching
// [authz.ErrUnavailable], while reads keep answering from memory. Closing
// an Authorizer from [New], or closing twice, does nothing.
func (a *Authorizer) Close() error {
	s := a.store
	if s == nil {
		return nil
	}
	s.qmu.Lock()
	if !s.closed {
		s.closed = true
		close(s.closing)
	}
	s.qmu.Unlock()
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	if err != nil {
		return fmt.Errorf("memadapter: close %s: %w: %w", s.path, authz.ErrUnavailable, err)
	}
	return nil
}

// Backup writes a consistent copy of the file of an Authorizer from [Open]
// to w while reads and writes go on, and returns the number of bytes
// written; opening the copy with [Open] restores it. An Authorizer from
// [New] has no file: its Backup is an error matching
// [authz.ErrInvalidRequest].
//
// Backup checks ctx before each Write to w and stops with ctx's error
// (matching [authz.ErrUnavailable] too) once ctx is done; a Write of w
// already in progress cannot be interrupted, so a w that blocks holds
// Backup until it returns. Writes to the engine go on meanwhile (up to a
// file of 1 GiB, or twice its size at Open if larger, on 64-bit systems;
// beyond that bbolt must remap the file, which waits for the Backup).
// [Authorizer.Close] stops a running Backup at its next Write to w, which
// then returns an error matching [authz.ErrUnavailable], and waits for
// the Write in progress.
//
// The copy is the file's pages as they are: bbolt has no checksums of its
// data pages, so a page damaged on disk is copied as it is (see [Open]).
// An engine restored from a copy answers as of the copy's last write, and
// its tokens continue from that write's revision: a token issued after
// the backup may name a revision the restored engine reaches again with
// other writes.
func (a *Authorizer) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if err := contextErr(ctx); err != nil {
		return 0, err
	}
	s := a.store
	if s == nil {
		return 0, invalidf("backup of an authorizer without a file (use Open)")
	}
	s.commitMu.Lock()
	db := s.db
	if db == nil {
		s.commitMu.Unlock()
		return 0, errClosed
	}
	// A read transaction sees one committed state; holding it keeps db
	// open, since bbolt's Close waits for it.
	tx, err := db.Begin(false)
	s.commitMu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("memadapter: backup of %s: %w: %w", s.path, authz.ErrUnavailable, err)
	}
	defer tx.Rollback()
	bw := &backupWriter{ctx: ctx, closing: s.closing, w: w}
	n, err := tx.WriteTo(bw)
	switch {
	case bw.stopped != nil:
		// bbolt wraps the writer's errors with %s: report ours as such.
		return n, fmt.Errorf("memadapter: backup of %s: %w", s.path, bw.stopped)
	case err != nil:
		return n, fmt.Errorf("memadapter: backup of %s: %w: %w", s.path, authz.ErrUnavailable, err)
	}
	return n, nil
}

// backupWriter passes writes on to w until ctx is done or closing is
// closed; stopped is then the error it returned.
type backupWriter struct {
	ctx     context.Context
	closing <-chan struct{}
	w       io.Writer
	stopped error
}

func (w *backupWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		w.stopped = fmt.Errorf("%w: %w", authz.ErrUnavailable, err)
		return 0, w.stopped
	}
	select {
	case <-w.closing:
		w.stopped = fmt.Errorf("the authorizer was closed: %w", authz.ErrUnavailable)
		return 0, w.stopped
	default:
	}
	return w.w.Write(p)
}
