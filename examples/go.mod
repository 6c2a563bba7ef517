module github.com/fgac-go/fgac/examples

go 1.25.8

require github.com/fgac-go/fgac v0.0.0

replace github.com/fgac-go/fgac => ../
