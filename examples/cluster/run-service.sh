#!/bin/sh
# run-service.sh starts a local 3-node SpiceDB cluster over PostgreSQL
# (examples/cluster) and the example service on it, with -spicedb-endpoint
# listing the three nodes. Run it from the repository root; extra arguments
# go to the service. Ctrl-C (SIGINT), SIGTERM or the service's exit stop
# both and remove every file the script made (one directory under $TMPDIR,
# holding the binaries, the cluster's settings and PostgreSQL's data). If
# the script itself is killed (SIGKILL), the service and the cluster get
# SIGTERM from the kernel (setpriv --pdeathsig, where util-linux has it)
# and the cluster stops its nodes and PostgreSQL and removes their data;
# the next cluster started removes the rest (the directory's PID file
# names this script, which no longer runs).
set -eu
cd "$(dirname "$0")/../.."
umask 077 # the settings file holds the cluster's key
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fgac-cluster-run-service.XXXXXX")
echo $$ >"$tmp/pid"
# child runs a command that gets SIGTERM when this script dies.
child() {
	if command -v setpriv >/dev/null 2>&1; then
		exec setpriv --pdeathsig TERM -- "$@"
	fi
	exec "$@"
}
# Run as root, PostgreSQL runs as the postgres user, which must pass
# through $tmp to its data (it lists nothing here, and reads no other file).
chmod 711 "$tmp"
cluster=
service=
building=

# stop ends the service, then the cluster (which stops its nodes and
# PostgreSQL by PID), waits for both and removes $tmp, whichever way the
# script ends; a second signal while it runs does not interrupt it.
stop() {
	trap '' INT TERM
	if [ -n "$building" ]; then
		kill -INT "$building" 2>/dev/null || true # go cleans up its work directory on SIGINT
		wait "$building" 2>/dev/null || true
	fi
	if [ -n "$service" ]; then
		kill -TERM "$service" 2>/dev/null || true
		wait "$service" 2>/dev/null || true
	fi
	if [ -n "$cluster" ]; then
		kill -TERM "$cluster" 2>/dev/null || true
		wait "$cluster" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap 'stop' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Every long step runs in the background with the script waiting for it, so
# that the traps run as soon as a signal arrives (sh runs a trap only once
# the foreground command is done).
build() {
	go build -o "$tmp/$1" "./examples/$1" &
	building=$!
	wait "$building"
	building=
}
build cluster
build service
(child "$tmp/cluster" -dir "$tmp/data") >"$tmp/env" &
cluster=$!
while ! grep -q '^FGAC_SPICEDB_KEY=' "$tmp/env"; do
	kill -0 "$cluster" 2>/dev/null || { echo "run-service.sh: the cluster did not start" >&2; exit 1; }
	sleep 0.2
done
set -a
. "$tmp/env"
set +a
rm -f "$tmp/env" # the key now lives only in this shell's environment and the service's
echo "run-service.sh: service on SpiceDB nodes $FGAC_SPICEDB_ENDPOINT" >&2
(child "$tmp/service" "$@") &
service=$!
status=0
wait "$service" || status=$?
service=
exit "$status"
