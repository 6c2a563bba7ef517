package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/fgac-go/fgac/authz"
)

// The store's errors. A missing row is authz.ErrNotFound itself, which is
// what the parent resolvers and name lookups must return.
var (
	errDuplicate = errors.New("store: the owner already uses the name")
	errHasTasks  = errors.New("store: agent still has tasks")
	errState     = errors.New("store: task is not in a state that allows this")
)

// schemaVersion is the version of the schema ddl creates, kept in the
// database's user_version. Version 0 is either an empty database or one
// written before names became per owner, which migrate converts.
const schemaVersion = 1

// The agents and tasks tables. Names are unique per owner, never globally:
// a global name would answer a create with another user's name 409 rather
// than 201, and so tell anyone which names exist. The name routes resolve a
// name among the caller's own (see ownName).
const (
	agentsTable = `(
	id    TEXT PRIMARY KEY,
	name  TEXT NOT NULL,
	owner TEXT NOT NULL,
	UNIQUE (owner, name)
)`
	tasksTable = `(
	id       TEXT PRIMARY KEY,
	name     TEXT NOT NULL,
	agent_id TEXT NOT NULL REFERENCES agents(id),
	owner    TEXT NOT NULL,
	status   TEXT NOT NULL,
	params   TEXT NOT NULL,
	UNIQUE (owner, name)
)`
)

// ddl creates what is missing of the schema.
const ddl = `
CREATE TABLE IF NOT EXISTS agents ` + agentsTable + `;
CREATE TABLE IF NOT EXISTS agent_keys (
	key_hash TEXT PRIMARY KEY,
	agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS tasks ` + tasksTable + `;
CREATE INDEX IF NOT EXISTS tasks_agent ON tasks(agent_id);
CREATE TABLE IF NOT EXISTS trackers (
	id            TEXT PRIMARY KEY,
	task_id       TEXT NOT NULL UNIQUE REFERENCES tasks(id) ON DELETE CASCADE,
	status        TEXT NOT NULL,
	last_event_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
	id      TEXT PRIMARY KEY,
	task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
	author  TEXT NOT NULL,
	content TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_task ON messages(task_id);
CREATE TABLE IF NOT EXISTS states (
	id      TEXT PRIMARY KEY,
	task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
	state   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS states_task ON states(task_id);
CREATE TABLE IF NOT EXISTS checkpoints (
	thread_id     TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
	checkpoint_id TEXT NOT NULL,
	parent_id     TEXT NOT NULL,
	checkpoint    TEXT NOT NULL,
	metadata      TEXT NOT NULL,
	PRIMARY KEY (thread_id, checkpoint_id)
);
CREATE TABLE IF NOT EXISTS checkpoint_writes (
	thread_id     TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
	checkpoint_id TEXT NOT NULL,
	channel       TEXT NOT NULL,
	value         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS checkpoint_writes_thread ON checkpoint_writes(thread_id, checkpoint_id);
CREATE TABLE IF NOT EXISTS events (
	id       TEXT PRIMARY KEY,
	agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
	task_id  TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
	content  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_agent ON events(agent_id);
CREATE INDEX IF NOT EXISTS events_task ON events(task_id);
`

// store is the service's database, the source of truth for which rows
// exist. It is safe for concurrent use.
type store struct {
	db *sql.DB
}

// openStore opens (creating if need be) the SQLite database at path, or a
// fresh in-memory one if path is empty.
//
// The pool holds a single connection. SQLite admits one writer at a time
// anyway, an in-memory database lives exactly as long as its connection,
// and one connection can never hit SQLITE_BUSY. A service with heavy reads
// would add a separate read-only pool over a WAL file.
func openStore(ctx context.Context, path string) (*store, error) {
	dsn := "file::memory:"
	if path != "" {
		dsn = "file:" + path
	}
	db, err := sql.Open("sqlite", dsn+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	return &store{db: db}, nil
}

// migrate brings the database to schemaVersion: it creates the tables of
// an empty database, and rebuilds the agents and tasks tables of a version
// 0 database, whose names were unique on their own, with names unique per
// owner. Rows and their ids are kept; the old constraint was the stricter
// one, so every row satisfies the new one.
func migrate(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var version, tables int
	if err := conn.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return err
	}
	switch {
	case version == schemaVersion:
		return nil
	case version > schemaVersion:
		return fmt.Errorf("database schema version %d is newer than this service's (%d)", version, schemaVersion)
	}
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'agents'`).Scan(&tables); err != nil {
		return err
	}
	if tables == 0 {
		return inConnTx(ctx, conn, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, ddl+fmt.Sprintf(`PRAGMA user_version = %d;`, schemaVersion))
			return err
		})
	}
	return namesPerOwner(ctx, conn)
}

// namesPerOwner migrates a version 0 database. SQLite cannot drop a
// column's UNIQUE, so each table is rebuilt the way SQLite's documentation
// prescribes (https://sqlite.org/lang_altertable.html#otheralter): with
// foreign keys off, create the new table, copy the rows, drop the old one,
// rename the new one, recreate the indexes, check the foreign keys, commit.
// Dropping the old table with foreign keys on would cascade the delete to
// every child row.
func namesPerOwner(ctx context.Context, conn *sql.Conn) error {
	// foreign_keys is a no-op inside a transaction, so it is set around it.
	if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		return err
	}
	err := inConnTx(ctx, conn, func(tx *sql.Tx) error {
		rebuild := `
CREATE TABLE agents_v1 ` + agentsTable + `;
INSERT INTO agents_v1 (id, name, owner) SELECT id, name, owner FROM agents;
DROP TABLE agents;
ALTER TABLE agents_v1 RENAME TO agents;
CREATE TABLE tasks_v1 ` + tasksTable + `;
INSERT INTO tasks_v1 (id, name, agent_id, owner, status, params) SELECT id, name, agent_id, owner, status, params FROM tasks;
DROP TABLE tasks;
ALTER TABLE tasks_v1 RENAME TO tasks;
` + ddl + fmt.Sprintf(`PRAGMA user_version = %d;`, schemaVersion)
		if _, err := tx.ExecContext(ctx, rebuild); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `PRAGMA foreign_key_check`)
		if err != nil {
			return err
		}
		defer rows.Close()
		if rows.Next() {
			return errors.New("migrate: a foreign key points nowhere after rebuilding agents and tasks")
		}
		return rows.Err()
	})
	// The pool's one connection must not stay without foreign keys.
	if _, onErr := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`); onErr != nil && err == nil {
		err = onErr
	}
	if err != nil {
		return fmt.Errorf("migrate to names per owner: %w", err)
	}
	return nil
}

// inConnTx runs f in a transaction on conn.
func inConnTx(ctx context.Context, conn *sql.Conn, f func(*sql.Tx) error) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (s *store) close() error { return s.db.Close() }

// The rows, which are also the JSON answers of the API.
type (
	agent struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Owner string `json:"-"`
	}
	task struct {
		ID      string          `json:"id"`
		Name    string          `json:"name"`
		AgentID string          `json:"agent_id"`
		Owner   string          `json:"-"`
		Status  string          `json:"status"`
		Params  json.RawMessage `json:"params"`
	}
	tracker struct {
		ID          string `json:"id"`
		TaskID      string `json:"task_id"`
		Status      string `json:"status"`
		LastEventID string `json:"last_event_id"`
	}
	message struct {
		ID      string `json:"id"`
		TaskID  string `json:"task_id"`
		Author  string `json:"author"`
		Content string `json:"content"`
	}
	state struct {
		ID     string          `json:"id"`
		TaskID string          `json:"task_id"`
		State  json.RawMessage `json:"state"`
	}
	checkpoint struct {
		ThreadID     string          `json:"thread_id"`
		CheckpointID string          `json:"checkpoint_id"`
		ParentID     string          `json:"parent_checkpoint_id"`
		Checkpoint   json.RawMessage `json:"checkpoint"`
		Metadata     json.RawMessage `json:"metadata"`
		Writes       []write         `json:"pending_writes,omitempty"`
	}
	write struct {
		Channel string          `json:"channel"`
		Value   json.RawMessage `json:"value"`
	}
	event struct {
		ID      string `json:"id"`
		AgentID string `json:"agent_id"`
		TaskID  string `json:"task_id"`
		Content string `json:"content"`
	}
)

// code returns the extended SQLite result code of err, or 0.
func code(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// constraint translates the constraint violations of an insert into the
// store's errors: a name the owner already uses is errDuplicate; a foreign key that
// points nowhere (the parent row was deleted meanwhile) is
// authz.ErrNotFound.
func constraint(err error) error {
	switch code(err) {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return errDuplicate
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return authz.ErrNotFound
	}
	return err
}

// one maps sql.ErrNoRows to authz.ErrNotFound.
func one(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return authz.ErrNotFound
	}
	return err
}

// affected reports whether a statement changed a row.
func affected(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// inFilter returns the SQL condition that applies an authorization filter to
// column: the ids travel as one JSON array, so the statement does not grow
// with the number of visible resources. Callers answer an empty filter
// without querying.
func inFilter(column string, f authz.Filter) (string, []any) {
	if f.All() {
		return "1 = 1", nil
	}
	ids, _ := json.Marshal(f.IDs())
	return column + " IN (SELECT value FROM json_each(?))", []any{string(ids)}
}

// list runs a query and scans every row with scan.
func list[T any](ctx context.Context, s *store, scan func(*sql.Rows) (T, error), query string, args ...any) ([]T, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// inTx runs f in a transaction.
func (s *store) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return constraint(err)
	}
	return constraint(tx.Commit())
}

// Agents.

func (s *store) createAgent(ctx context.Context, a agent, keyHash string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO agents (id, name, owner) VALUES (?, ?, ?)`, a.ID, a.Name, a.Owner); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO agent_keys (key_hash, agent_id) VALUES (?, ?)`, keyHash, a.ID)
		return err
	})
}

func scanAgent(r *sql.Rows) (agent, error) {
	var a agent
	return a, r.Scan(&a.ID, &a.Name, &a.Owner)
}

func (s *store) agent(ctx context.Context, id string) (agent, error) {
	var a agent
	err := s.db.QueryRowContext(ctx, `SELECT id, name, owner FROM agents WHERE id = ?`, id).Scan(&a.ID, &a.Name, &a.Owner)
	return a, one(err)
}

// agentIDByName returns the id of owner's agent called name. Another
// user's agent of that name is not found.
func (s *store) agentIDByName(ctx context.Context, owner, name string) (string, error) {
	var id string
	return id, one(s.db.QueryRowContext(ctx, `SELECT id FROM agents WHERE owner = ? AND name = ?`, owner, name).Scan(&id))
}

// agentByKey returns the agent whose API key has the digest keyHash, and
// the agent's owner.
func (s *store) agentByKey(ctx context.Context, keyHash string) (id, owner string, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT k.agent_id, a.owner FROM agent_keys k JOIN agents a ON a.id = k.agent_id WHERE k.key_hash = ?`, keyHash).Scan(&id, &owner)
	return id, owner, one(err)
}

func (s *store) listAgents(ctx context.Context, f authz.Filter) ([]agent, error) {
	cond, args := inFilter("id", f)
	return list(ctx, s, scanAgent, `SELECT id, name, owner FROM agents WHERE `+cond+` ORDER BY id`, args...)
}

// deleteAgent deletes an agent and its keys. An agent that still has tasks
// is errHasTasks: deleting it would strand their relationships.
func (s *store) deleteAgent(ctx context.Context, id string) (bool, error) {
	deleted, err := affected(s.db.ExecContext(ctx, `DELETE FROM agents WHERE id = ?`, id))
	if code(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
		return false, errHasTasks
	}
	return deleted, err
}

// Tasks.

// createTask inserts a task and its tracker in one transaction.
func (s *store) createTask(ctx context.Context, t task, trackerID string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO tasks (id, name, agent_id, owner, status, params) VALUES (?, ?, ?, ?, ?, ?)`,
			t.ID, t.Name, t.AgentID, t.Owner, t.Status, string(t.Params)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO trackers (id, task_id, status, last_event_id) VALUES (?, ?, 'idle', '')`, trackerID, t.ID)
		return err
	})
}

const taskColumns = `id, name, agent_id, owner, status, params`

func scanTask(r *sql.Rows) (task, error) {
	var t task
	var params string
	err := r.Scan(&t.ID, &t.Name, &t.AgentID, &t.Owner, &t.Status, &params)
	t.Params = json.RawMessage(params)
	return t, err
}

func (s *store) task(ctx context.Context, id string) (task, error) {
	return first(list(ctx, s, scanTask, `SELECT `+taskColumns+` FROM tasks WHERE id = ?`, id))
}

// exists reports whether r's row exists: the existence check that
// httpauthz makes part of every decision (enforce.Rows), so that
// relationships left behind by a deleted row grant nothing. It asks the
// same indexed query for every id, the decoy included.
func (s *store) exists(ctx context.Context, r authz.Resource) (bool, error) {
	table, ok := rowTables[r.Type]
	if !ok {
		return false, fmt.Errorf("store: no table for resource type %q", r.Type)
	}
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM `+table+` WHERE id = ?`, r.ID).Scan(&n)
	return n > 0, err
}

// rowTables are the tables of the resource types that carry permissions.
var rowTables = map[string]string{"agent": "agents", "task": "tasks"}

// createdBy reports whether the row with id in table (agents or tasks)
// exists and was created by owner: the read-back that tells dualwrite
// whether a failed insert committed after all.
func (s *store) createdBy(ctx context.Context, table, id, owner string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM `+table+` WHERE id = ? AND owner = ?`, id, owner).Scan(&n)
	return n > 0, err
}

// taskIDByName returns the id of owner's task called name. Another user's
// task of that name, shared with owner or not, is not found.
func (s *store) taskIDByName(ctx context.Context, owner, name string) (string, error) {
	var id string
	return id, one(s.db.QueryRowContext(ctx, `SELECT id FROM tasks WHERE owner = ? AND name = ?`, owner, name).Scan(&id))
}

// listTasks lists the tasks the filter admits, in id order, at most limit,
// after the id after; agentID, if set, is a plain filter.
func (s *store) listTasks(ctx context.Context, f authz.Filter, agentID, after string, limit int) ([]task, error) {
	cond, args := inFilter("id", f)
	q := `SELECT ` + taskColumns + ` FROM tasks WHERE ` + cond + ` AND id > ?`
	args = append(args, after)
	if agentID != "" {
		q += ` AND agent_id = ?`
		args = append(args, agentID)
	}
	return list(ctx, s, scanTask, q+` ORDER BY id LIMIT ?`, append(args, limit)...)
}

func (s *store) updateTaskParams(ctx context.Context, id string, params json.RawMessage) (bool, error) {
	return affected(s.db.ExecContext(ctx, `UPDATE tasks SET params = ? WHERE id = ?`, string(params), id))
}

// setTaskStatus moves a task from one of the statuses in from to status to.
// A task in another status is errState; a missing one authz.ErrNotFound.
func (s *store) setTaskStatus(ctx context.Context, id, to string, from ...string) error {
	in, _ := json.Marshal(from)
	ok, err := affected(s.db.ExecContext(ctx, `UPDATE tasks SET status = ? WHERE id = ? AND status IN (SELECT value FROM json_each(?))`, to, id, string(in)))
	if err != nil || ok {
		return err
	}
	if _, err := s.task(ctx, id); err != nil {
		return err
	}
	return errState
}

// deleteTask deletes a task; its children go with it (ON DELETE CASCADE).
func (s *store) deleteTask(ctx context.Context, id string) (bool, error) {
	return affected(s.db.ExecContext(ctx, `DELETE FROM tasks WHERE id = ?`, id))
}

// Children. Each has a parent lookup for the parent.Registry, which returns
// authz.ErrNotFound for a missing child.

// parentOf returns the parent id of the child with id in table.
func (s *store) parentOf(ctx context.Context, table, column, id string) (string, error) {
	var p string
	return p, one(s.db.QueryRowContext(ctx, `SELECT `+column+` FROM `+table+` WHERE id = ?`, id).Scan(&p))
}

func (s *store) insertMessage(ctx context.Context, m message) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO messages (id, task_id, author, content) VALUES (?, ?, ?, ?)`, m.ID, m.TaskID, m.Author, m.Content)
	return constraint(err)
}

func scanMessage(r *sql.Rows) (message, error) {
	var m message
	return m, r.Scan(&m.ID, &m.TaskID, &m.Author, &m.Content)
}

func (s *store) message(ctx context.Context, id string) (message, error) {
	return first(list(ctx, s, scanMessage, `SELECT id, task_id, author, content FROM messages WHERE id = ?`, id))
}

func (s *store) updateMessage(ctx context.Context, id, content string) (bool, error) {
	return affected(s.db.ExecContext(ctx, `UPDATE messages SET content = ? WHERE id = ?`, content, id))
}

func (s *store) listMessages(ctx context.Context, f authz.Filter) ([]message, error) {
	cond, args := inFilter("task_id", f)
	return list(ctx, s, scanMessage, `SELECT id, task_id, author, content FROM messages WHERE `+cond+` ORDER BY rowid`, args...)
}

func (s *store) insertState(ctx context.Context, st state) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO states (id, task_id, state) VALUES (?, ?, ?)`, st.ID, st.TaskID, string(st.State))
	return constraint(err)
}

func scanState(r *sql.Rows) (state, error) {
	var st state
	var raw string
	err := r.Scan(&st.ID, &st.TaskID, &raw)
	st.State = json.RawMessage(raw)
	return st, err
}

func (s *store) state(ctx context.Context, id string) (state, error) {
	return first(list(ctx, s, scanState, `SELECT id, task_id, state FROM states WHERE id = ?`, id))
}

func (s *store) updateState(ctx context.Context, id string, st json.RawMessage) (bool, error) {
	return affected(s.db.ExecContext(ctx, `UPDATE states SET state = ? WHERE id = ?`, string(st), id))
}

func (s *store) deleteState(ctx context.Context, id string) (bool, error) {
	return affected(s.db.ExecContext(ctx, `DELETE FROM states WHERE id = ?`, id))
}

func (s *store) listStates(ctx context.Context, f authz.Filter) ([]state, error) {
	cond, args := inFilter("task_id", f)
	return list(ctx, s, scanState, `SELECT id, task_id, state FROM states WHERE `+cond+` ORDER BY rowid`, args...)
}

func scanTracker(r *sql.Rows) (tracker, error) {
	var t tracker
	return t, r.Scan(&t.ID, &t.TaskID, &t.Status, &t.LastEventID)
}

func (s *store) tracker(ctx context.Context, id string) (tracker, error) {
	return first(list(ctx, s, scanTracker, `SELECT id, task_id, status, last_event_id FROM trackers WHERE id = ?`, id))
}

func (s *store) updateTracker(ctx context.Context, t tracker) (bool, error) {
	return affected(s.db.ExecContext(ctx, `UPDATE trackers SET status = ?, last_event_id = ? WHERE id = ?`, t.Status, t.LastEventID, t.ID))
}

func (s *store) listTrackers(ctx context.Context, f authz.Filter) ([]tracker, error) {
	cond, args := inFilter("task_id", f)
	return list(ctx, s, scanTracker, `SELECT id, task_id, status, last_event_id FROM trackers WHERE `+cond+` ORDER BY id`, args...)
}

func (s *store) putCheckpoint(ctx context.Context, c checkpoint) error {
	_, err := s.db.ExecContext(ctx, `INSERT OR REPLACE INTO checkpoints (thread_id, checkpoint_id, parent_id, checkpoint, metadata) VALUES (?, ?, ?, ?, ?)`,
		c.ThreadID, c.CheckpointID, c.ParentID, string(c.Checkpoint), string(c.Metadata))
	return constraint(err)
}

func (s *store) putWrites(ctx context.Context, threadID, checkpointID string, ws []write) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, w := range ws {
			if _, err := tx.ExecContext(ctx, `INSERT INTO checkpoint_writes (thread_id, checkpoint_id, channel, value) VALUES (?, ?, ?, ?)`,
				threadID, checkpointID, w.Channel, string(w.Value)); err != nil {
				return err
			}
		}
		return nil
	})
}

func scanCheckpoint(r *sql.Rows) (checkpoint, error) {
	var c checkpoint
	var cp, md string
	err := r.Scan(&c.ThreadID, &c.CheckpointID, &c.ParentID, &cp, &md)
	c.Checkpoint, c.Metadata = json.RawMessage(cp), json.RawMessage(md)
	return c, err
}

const checkpointColumns = `thread_id, checkpoint_id, parent_id, checkpoint, metadata`

// checkpointTuple returns a thread's checkpoint with id, or its latest if id
// is empty, with its pending writes; authz.ErrNotFound if there is none.
func (s *store) checkpointTuple(ctx context.Context, threadID, id string) (checkpoint, error) {
	q := `SELECT ` + checkpointColumns + ` FROM checkpoints WHERE thread_id = ? AND (? = '' OR checkpoint_id = ?) ORDER BY rowid DESC LIMIT 1`
	c, err := first(list(ctx, s, scanCheckpoint, q, threadID, id, id))
	if err != nil {
		return c, err
	}
	c.Writes, err = list(ctx, s, func(r *sql.Rows) (write, error) {
		var w write
		var v string
		err := r.Scan(&w.Channel, &v)
		w.Value = json.RawMessage(v)
		return w, err
	}, `SELECT channel, value FROM checkpoint_writes WHERE thread_id = ? AND checkpoint_id = ? ORDER BY rowid`, threadID, c.CheckpointID)
	return c, err
}

func (s *store) listCheckpoints(ctx context.Context, f authz.Filter) ([]checkpoint, error) {
	cond, args := inFilter("thread_id", f)
	return list(ctx, s, scanCheckpoint, `SELECT `+checkpointColumns+` FROM checkpoints WHERE `+cond+` ORDER BY rowid`, args...)
}

func (s *store) deleteThread(ctx context.Context, threadID string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM checkpoint_writes WHERE thread_id = ?`, threadID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM checkpoints WHERE thread_id = ?`, threadID)
		return err
	})
}

func (s *store) insertEvent(ctx context.Context, e event) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO events (id, agent_id, task_id, content) VALUES (?, ?, ?, ?)`, e.ID, e.AgentID, e.TaskID, e.Content)
	return constraint(err)
}

func scanEvent(r *sql.Rows) (event, error) {
	var e event
	return e, r.Scan(&e.ID, &e.AgentID, &e.TaskID, &e.Content)
}

func (s *store) event(ctx context.Context, id string) (event, error) {
	return first(list(ctx, s, scanEvent, `SELECT id, agent_id, task_id, content FROM events WHERE id = ?`, id))
}

// listEvents lists the events of the agents the filter admits; taskID, if
// set, is a plain filter.
func (s *store) listEvents(ctx context.Context, f authz.Filter, taskID string) ([]event, error) {
	cond, args := inFilter("agent_id", f)
	q := `SELECT id, agent_id, task_id, content FROM events WHERE ` + cond
	if taskID != "" {
		q += ` AND task_id = ?`
		args = append(args, taskID)
	}
	return list(ctx, s, scanEvent, q+` ORDER BY rowid`, args...)
}

// first returns the only row of a list query, or authz.ErrNotFound.
func first[T any](rows []T, err error) (T, error) {
	var zero T
	if err != nil {
		return zero, err
	}
	if len(rows) == 0 {
		return zero, authz.ErrNotFound
	}
	return rows[0], nil
}

// Reconciliation: what dualwrite.Reconciler needs of the agents and tasks
// tables.

// ids returns a page of ids of table after cursor.
func (s *store) ids(ctx context.Context, table, cursor string, limit int) ([]string, string, error) {
	ids, err := list(ctx, s, func(r *sql.Rows) (string, error) {
		var id string
		return id, r.Scan(&id)
	}, `SELECT id FROM `+table+` WHERE id > ? ORDER BY id LIMIT ?`, cursor, limit)
	if err != nil || len(ids) < limit {
		return ids, "", err
	}
	return ids, ids[len(ids)-1], nil
}

// existing returns those of ids that have a row in table.
func (s *store) existing(ctx context.Context, table string, ids []string) ([]string, error) {
	in, _ := json.Marshal(ids)
	return list(ctx, s, func(r *sql.Rows) (string, error) {
		var id string
		return id, r.Scan(&id)
	}, `SELECT id FROM `+table+` WHERE id IN (SELECT value FROM json_each(?))`, string(in))
}

// registration returns the registration of the agent or task with id, as
// the row records its owner (and a task's parent agent).
func (s *store) registration(ctx context.Context, table, id string) (authz.RegisterRequest, bool, error) {
	var owner, agentID string
	q := `SELECT owner, '' FROM agents WHERE id = ?`
	if table == "tasks" {
		q = `SELECT owner, agent_id FROM tasks WHERE id = ?`
	}
	err := s.db.QueryRowContext(ctx, q, id).Scan(&owner, &agentID)
	if errors.Is(err, sql.ErrNoRows) {
		return authz.RegisterRequest{}, false, nil
	}
	if err != nil {
		return authz.RegisterRequest{}, false, err
	}
	req := authz.RegisterRequest{Owner: authz.Subject{Type: "user", ID: owner}}
	if agentID != "" {
		req.Parent = &authz.Resource{Type: "agent", ID: agentID}
	}
	return req, true, nil
}
