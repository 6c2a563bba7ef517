#!/bin/sh
# run-service.sh starts a local 3-node SpiceDB cluster over PostgreSQL
# (go run ./examples/cluster) and the example service on it, with
# -spicedb-endpoint listing the three nodes. Run it from the repository
# root; extra arguments go to the service. Ctrl-C stops both.
set -eu
cd "$(dirname "$0")/../.."
env_file=$(mktemp)
go build -o "$env_file.cluster" ./examples/cluster
"$env_file.cluster" >"$env_file" &
cluster=$!
trap 'kill -INT $cluster 2>/dev/null; wait $cluster 2>/dev/null; rm -f "$env_file" "$env_file.cluster"' EXIT INT TERM
while ! grep -q '^FGAC_SPICEDB_KEY=' "$env_file"; do
	kill -0 $cluster 2>/dev/null || { echo "run-service.sh: the cluster did not start" >&2; exit 1; }
	sleep 0.2
done
set -a
. "$env_file"
set +a
echo "run-service.sh: service on SpiceDB nodes $FGAC_SPICEDB_ENDPOINT" >&2
go run ./examples/service "$@"
