#!/usr/bin/env bash
# Run fakeca's Pebble drop-in tests against Pebble itself, to check that
# they describe what Pebble does: every process test in cmd/fakeca that
# starts `pebble` / `pebble-challtestsrv` (TestPebble*, TestChalltestsrv*Process)
# then starts the real binaries instead of fakeca. Tests of fakeca's own
# texts and extras (TestPebbleStartErrors, TestPebbleWithFakecaExtras) skip
# themselves under PEBBLE_COMPAT=1.
#
# Installs pebble and pebble-challtestsrv from the Go module proxy into
# PEBBLE_DIR and writes a dispatch script there that execs one or the
# other by the name it is called with (the tests call their binary through
# symlinks named pebble and pebble-challtestsrv, with an empty environment).
#
# Environment (all optional):
#   PEBBLE_VERSION  Pebble module version         (default v2.10.3)
#   PEBBLE_DIR      where to install the binaries (default /tmp/pebblebin)
# Extra arguments go to "go test" (e.g. -race).
set -euo pipefail
cd "$(dirname "$0")/.."

PEBBLE_VERSION="${PEBBLE_VERSION:-v2.10.3}"
PEBBLE_DIR="${PEBBLE_DIR:-/tmp/pebblebin}"

echo "== installing pebble and pebble-challtestsrv @$PEBBLE_VERSION into $PEBBLE_DIR" >&2
for cmd in pebble pebble-challtestsrv; do
	(cd /tmp && GOBIN="$PEBBLE_DIR" GOFLAGS= go install "github.com/letsencrypt/pebble/v2/cmd/$cmd@$PEBBLE_VERSION")
done
cat >"$PEBBLE_DIR/dispatch" <<DISPATCH
#!/bin/sh
case "\$(/usr/bin/basename "\$0")" in
pebble) exec "$PEBBLE_DIR/pebble" "\$@" ;;
pebble-challtestsrv) exec "$PEBBLE_DIR/pebble-challtestsrv" "\$@" ;;
*) echo "dispatch: called as \$0, want pebble or pebble-challtestsrv" >&2; exit 2 ;;
esac
DISPATCH
chmod +x "$PEBBLE_DIR/dispatch"

echo "== go test ./cmd/fakeca -run 'TestPebble|TestChalltestsrv.*Process' against Pebble" >&2
FAKECA_BIN="$PEBBLE_DIR/dispatch" PEBBLE_COMPAT=1 \
	go test ./cmd/fakeca/ -run 'TestPebble|TestChalltestsrv.*Process' -count=1 -v "$@"
