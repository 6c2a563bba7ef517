module github.com/fgac-go/fgac/examples/metrics

go 1.25.8

require github.com/fgac-go/fgac v0.0.0

require (
	github.com/prometheus/client_golang v1.23.2 // indirect
	github.com/prometheus/common v0.67.5 // indirect
)

replace github.com/fgac-go/fgac => ../../
