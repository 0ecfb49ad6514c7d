#!/usr/bin/env bash
# Run fakeca's issuance client against Pebble, an independent ACME server:
# TestClientAgainstPebble in cmd/fakeca issues a certificate with
# "fakeca issue" and revokes it with "fakeca revoke", trusting Pebble's test
# CA, with PEBBLE_VA_ALWAYS_VALID=1.
#
# Installs Pebble from the Go module proxy (outside this repository; the
# module's test/certs come with it into the module cache). The default
# "go test ./..." skips this test because PEBBLE_BIN is unset.
#
# Environment (all optional):
#   PEBBLE_VERSION  Pebble module version        (default v2.10.3)
#   PEBBLE_DIR      where to install the binary  (default /tmp/pebblebin)
# Extra arguments go to "go test" (e.g. -race).
set -euo pipefail
cd "$(dirname "$0")/.."

PEBBLE_VERSION="${PEBBLE_VERSION:-v2.10.3}"
PEBBLE_DIR="${PEBBLE_DIR:-/tmp/pebblebin}"

echo "== installing pebble@$PEBBLE_VERSION into $PEBBLE_DIR" >&2
(cd /tmp && GOBIN="$PEBBLE_DIR" GOFLAGS= go install "github.com/letsencrypt/pebble/v2/cmd/pebble@$PEBBLE_VERSION")

PEBBLE_CERTS="$(go env GOMODCACHE)/github.com/letsencrypt/pebble/v2@$PEBBLE_VERSION/test/certs"
test -f "$PEBBLE_CERTS/pebble.minica.pem" || { echo "no Pebble test CA at $PEBBLE_CERTS" >&2; exit 1; }

echo "== go test ./cmd/fakeca -run TestClientAgainstPebble" >&2
PEBBLE_BIN="$PEBBLE_DIR/pebble" PEBBLE_CERTS="$PEBBLE_CERTS" \
	go test ./cmd/fakeca/ -run '^TestClientAgainstPebble$' -count=1 -v "$@"
