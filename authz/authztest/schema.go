package authztest

// Schema is the main schema of the suite, in the SpiceDB schema language: a
// reduced form of the reference system, where a task belongs to an agent and
// an agent to an org, so that permissions flow down two levels of parent
// arrows. It has subject sets (group#member, nested groups), a public
// wildcard (user:*), an intersection (task update needs a role on the task
// and read on its agent) and an exclusion (a banned user cannot read a task
// by any path).
const Schema = `definition user {}

definition service {}

definition group {
	relation member: user | service | group#member
}

definition org {
	relation owner: user
	relation admin: user | group#member
	relation member: user | service | group#member
	permission manage = owner + admin
	permission view = manage + member
}

definition agent {
	relation parent: org
	relation owner: user | service
	relation editor: user | group#member
	relation viewer: user | user:* | group#member
	permission read = viewer + editor + owner + parent->view
	permission update = editor + owner + parent->manage
	permission execute = update
	permission delete = owner + parent->manage
}

definition task {
	relation parent: agent
	relation owner: user | service
	relation editor: user | group#member
	relation viewer: user | user:* | group#member
	relation banned: user
	permission read = (viewer + editor + owner + parent->read) - banned
	permission update = (editor + owner) & parent->read
	permission cancel = owner
	permission delete = owner + parent->delete
}
`

// operatorSchema has one definition whose permissions exercise each set
// operator of the schema language, nested and with nil, over the same
// relations.
const operatorSchema = `definition user {}

definition service {}

definition doc {
	relation viewer: user | user:* | service
	relation editor: user
	relation approver: user
	relation banned: user | user:*
	relation pardoned: user
	permission view = viewer + editor
	permission approved_view = view & approver
	permission safe_view = view - banned
	permission lenient_view = view - (banned - pardoned)
	permission strict_view = (viewer & editor) - banned
	permission nothing = nil
	permission view_or_nil = viewer + nil
	permission view_minus_nil = viewer - nil
	permission view_and_nil = viewer & nil
}
`
