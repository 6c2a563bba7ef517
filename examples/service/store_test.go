package main

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/fgac-go/fgac/authz"
)

// TestStoreMigratesToNamesPerOwner opens a database written before names
// became per owner (agents.name and tasks.name UNIQUE on their own, schema
// version 0): the store rebuilds both tables with UNIQUE (owner, name),
// keeps every row and every child row, and keeps foreign keys on.
func TestStoreMigratesToNamesPerOwner(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v0.db")
	old, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	_, err = old.Exec(`
CREATE TABLE agents (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, owner TEXT NOT NULL);
CREATE TABLE agent_keys (key_hash TEXT PRIMARY KEY, agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE);
CREATE TABLE tasks (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, agent_id TEXT NOT NULL REFERENCES agents(id),
	owner TEXT NOT NULL, status TEXT NOT NULL, params TEXT NOT NULL);
CREATE INDEX tasks_agent ON tasks(agent_id);
CREATE TABLE messages (id TEXT PRIMARY KEY, task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
	author TEXT NOT NULL, content TEXT NOT NULL);
INSERT INTO agents VALUES ('agent_a', 'helper', 'alice');
INSERT INTO agent_keys VALUES ('digest', 'agent_a');
INSERT INTO tasks VALUES ('task_a', 'report', 'agent_a', 'alice', 'running', '{}');
INSERT INTO messages VALUES ('msg_a', 'task_a', 'user:alice', 'hi');
`)
	old.Close()
	if err != nil {
		t.Fatal(err)
	}

	for range 2 { // the second open finds the current version and changes nothing
		st, err := openStore(ctx, path)
		if err != nil {
			t.Fatalf("openStore: %v", err)
		}
		var version, fks int
		if err := st.db.QueryRow(`PRAGMA user_version`).Scan(&version); err != nil || version != schemaVersion {
			t.Errorf("user_version = %d (%v), want %d", version, err, schemaVersion)
		}
		if err := st.db.QueryRow(`PRAGMA foreign_keys`).Scan(&fks); err != nil || fks != 1 {
			t.Errorf("foreign_keys = %d (%v), want 1", fks, err)
		}
		if id, err := st.taskIDByName(ctx, "alice", "report"); err != nil || id != "task_a" {
			t.Errorf("alice's task report: %q, %v", id, err)
		}
		if id, owner, err := st.agentByKey(ctx, "digest"); err != nil || id != "agent_a" || owner != "alice" {
			t.Errorf("agent of the key: %q of %q, %v", id, owner, err)
		}
		if _, err := st.message(ctx, "msg_a"); err != nil {
			t.Errorf("message of the migrated task: %v", err)
		}
		st.close()
	}

	st, err := openStore(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	// bob may now use alice's names; alice may not use them twice.
	if err := st.createAgent(ctx, agent{ID: "agent_b", Name: "helper", Owner: "bob"}, "digest-b"); err != nil {
		t.Errorf("bob's agent named like alice's: %v", err)
	}
	if err := st.createTask(ctx, task{ID: "task_b", Name: "report", AgentID: "agent_b", Owner: "bob", Status: "running", Params: []byte("{}")}, "tracker_b"); err != nil {
		t.Errorf("bob's task named like alice's: %v", err)
	}
	if err := st.createAgent(ctx, agent{ID: "agent_c", Name: "helper", Owner: "alice"}, "digest-c"); !errors.Is(err, errDuplicate) {
		t.Errorf("alice's second agent named helper: %v, want errDuplicate", err)
	}
	if err := st.createTask(ctx, task{ID: "task_c", Name: "report", AgentID: "agent_a", Owner: "alice", Status: "running", Params: []byte("{}")}, "tracker_c"); !errors.Is(err, errDuplicate) {
		t.Errorf("alice's second task named report: %v, want errDuplicate", err)
	}
	// The child tables' foreign keys reach the rebuilt tables: deleting the
	// task deletes its message, and an agent with tasks cannot be deleted.
	if _, err := st.deleteAgent(ctx, "agent_a"); !errors.Is(err, errHasTasks) {
		t.Errorf("delete agent with tasks: %v, want errHasTasks", err)
	}
	if _, err := st.deleteTask(ctx, "task_a"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.message(ctx, "msg_a"); !errors.Is(err, authz.ErrNotFound) {
		t.Errorf("message of the deleted task: %v, want not found", err)
	}
}
