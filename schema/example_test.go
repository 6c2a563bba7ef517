package schema_test

import (
	"errors"
	"fmt"

	"github.com/fgac-go/fgac/schema"
)

func ExampleParse() {
	s, err := schema.Parse(`
definition user {}

definition task {
	relation owner: user
	relation viewer: user | user:*
	permission read = owner + viewer
}
`)
	if err != nil {
		fmt.Println(err)
		return
	}
	read := s.Definition("task").Permission("read")
	fmt.Println(read.Pos, "->", read)
	fmt.Println(s.HasPermission("task", "viewer"), s.HasPermission("task", "write"))

	_, err = schema.Parse("definition user {}\ndefinition task {\n\trelation owner: user with on_weekdays\n}\n")
	var se *schema.Error
	if errors.As(err, &se) {
		fmt.Println(se.Line, se.Column, se.Msg)
	}
	// Output:
	// line 7, column 13 -> permission read = owner + viewer
	// true false
	// 3 28 unknown caveat "on_weekdays" in relation "owner" of "task"
}
