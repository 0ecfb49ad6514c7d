#!/usr/bin/env bash
# Compare fakeca with Pebble on this machine under the same load.
#
# Installs Pebble (from the Go module proxy, outside this repository), builds
# fakeca once, runs BenchmarkIssuance (ca/instance/bench_test.go) against both
# as separate processes, then prints the median of every metric per
# sub-benchmark and the fakeca/Pebble ratios that BENCHMARKS.md tracks.
#
# Environment (all optional):
#   PEBBLE_VERSION  Pebble module version          (default v2.10.3)
#   PEBBLE_DIR      where to install the binary    (default /tmp/pebblebin)
#   BENCH           -bench pattern                 (default 'Issuance$')
#   BENCHTIME       -benchtime                     (default 1000x)
#   COUNT           -count                         (default 5)
#   OUT             keep the raw go test output here (default: a temp file)
set -euo pipefail
cd "$(dirname "$0")/.."

PEBBLE_VERSION="${PEBBLE_VERSION:-v2.10.3}"
PEBBLE_DIR="${PEBBLE_DIR:-/tmp/pebblebin}"
BENCH="${BENCH:-Issuance\$}"
BENCHTIME="${BENCHTIME:-1000x}"
COUNT="${COUNT:-5}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
OUT="${OUT:-$work/bench.txt}"

echo "== installing pebble@$PEBBLE_VERSION into $PEBBLE_DIR" >&2
(cd /tmp && GOBIN="$PEBBLE_DIR" GOFLAGS= go install "github.com/letsencrypt/pebble/v2/cmd/pebble@$PEBBLE_VERSION")

echo "== building fakeca" >&2
go build -o "$work/fakeca" ./cmd/fakeca

echo "== go test -bench '$BENCH' -benchtime $BENCHTIME -count $COUNT" >&2
FAKECA_BIN="$work/fakeca" PEBBLE_BIN="$PEBBLE_DIR/pebble" \
	go test ./ca/instance/ -run '^$' -bench "$BENCH" -benchtime "$BENCHTIME" -count "$COUNT" -timeout 120m |
	tee "$OUT"

# Medians: one "name unit value" line per metric, sorted, middle element
# per (name, unit). Portable awk (no asort).
echo
echo "== medians over $COUNT runs"
awk '/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 3; i < NF; i += 2) print name, $(i + 1), $i
}' "$OUT" | sort -k1,1 -k2,2 -k3,3g | awk '
function flush() {
	if (n == 0) return
	med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
	printf "%-58s %-26s %10.3f  (n=%d)\n", key1, key2, med, n
	print key1, key2, med, n > "/dev/stderr"
	n = 0
}
{ if ($1 != key1 || $2 != key2) { flush(); key1 = $1; key2 = $2 } v[++n] = $3 }
END { flush() }' 2>"$work/medians.txt"

echo
echo "== fakeca / pebble (targets: server CPU <= 0.125, p50 at 1 client <= 0.5)"
awk '{ m[$1 SUBSEP $2] = $3; runs[$1 SUBSEP $2] = $4; names[$1] = 1 }
END {
	for (f in names) {
		if (f !~ /server=fakeca/) continue
		p = f; sub(/server=fakeca/, "server=pebble", p)
		line = ""
		if ((f SUBSEP "stalled") in m) line = sprintf("  fakeca STALLED in %d of %d runs;", runs[f SUBSEP "stalled"], runs[f SUBSEP "ns/op"])
		if ((p SUBSEP "stalled") in m) line = line sprintf("  pebble STALLED in %d of %d runs;", runs[p SUBSEP "stalled"], runs[p SUBSEP "ns/op"])
		split("server-cpu-ms/issuance p50-ms p99-ms issuances/s server-rss-KiB/issuance", us, " ")
		for (k = 1; k <= 5; k++) {
			u = us[k]
			if ((f SUBSEP u) in m && (p SUBSEP u) in m && m[p SUBSEP u] > 0)
				line = line sprintf("  %s %.2f", u, m[f SUBSEP u] / m[p SUBSEP u])
		}
		if (line != "") printf "%-58s%s\n", f, line
	}
}' "$work/medians.txt" | sort
