#!/usr/bin/env bash
# A/B pay-in throughput of two release builds on this machine, interleaved so drift (disk
# stalls, host CPU steal, table growth) falls on both alike:
#
#   bench/ab.sh OLD_DIR NEW_DIR [ROUNDS]
#
# OLD_DIR and NEW_DIR hold `overture` and `overture-bench` (e.g. a worktree's target/release).
# Each round runs, for PostgreSQL and then SQLite, a fresh server of each build (their order
# alternates per round) and a 15 s closed loop of 32 clients (`overture-bench payins`), each on
# a fresh schema or database. AB_BACKENDS="postgres" (or "sqlite") runs one backend only;
# AB_DURATION sets the loop's length. AB_RATE=N offers N pay-ins/s instead (open loop, below
# saturation) and the figure to compare is then the whole machine's busy CPU per pay-in
# (server, database, load generator, kernel; from /proc/stat), far steadier on a shared host
# than the saturated throughput. It prints one JSON line per run and, per backend, the medians
# and the ratio new ÷ old of throughput and of server CPU per pay-in.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 OLD_DIR NEW_DIR [ROUNDS]" >&2; exit 2; }
OLD=$(cd "$1" && pwd); NEW=$(cd "$2" && pwd); ROUNDS=${3:-3}
PGURL=${OVERTURE_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
DUR=${AB_DURATION:-15s}
BACKENDS=${AB_BACKENDS:-postgres sqlite}
RATE=${AB_RATE:-}
work=$(mktemp -d)
AUTOVACUUM=$(psql "$PGURL" -Atc 'show autovacuum' 2>/dev/null || echo unknown)
if [ "$AUTOVACUUM" = off ]; then
  psql "$PGURL" -qc 'ALTER SYSTEM SET autovacuum = on' -c 'SELECT pg_reload_conf()' >/dev/null
fi
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  [ "$AUTOVACUUM" = off ] && psql "$PGURL" -qc 'ALTER SYSTEM RESET autovacuum' -c 'SELECT pg_reload_conf()' >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
echo "{\"machine\":\"$(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r)\",\"date\":\"$(date -u +%FT%TZ)\",\"old\":\"$OLD\",\"new\":\"$NEW\"}"

# One run: build dir, backend, label; appends its JSON line to $work/runs.jsonl.
run() {
  local bin=$1 backend=$2 label=$3 schema=""
  export OVERTURE_MASTER_KEY; OVERTURE_MASTER_KEY=$(head -c32 /dev/urandom | base64)
  if [ "$backend" = postgres ]; then
    schema=ab_$(date +%s%N)
    export OVERTURE_DATABASE_URL=$PGURL OVERTURE_DB_SCHEMA=$schema
  else
    unset OVERTURE_DB_SCHEMA; export OVERTURE_DATABASE_URL=sqlite://$work/ab-$(date +%s%N).db
  fi
  OVERTURE_SANDBOX_DELAY=0 OVERTURE_LISTEN=127.0.0.1:8080 RUST_LOG=warn "$bin/overture" serve \
    > "$work/serve.out" 2> "$work/serve.err" &
  local pid=$!
  for _ in $(seq 1 50); do curl -sf http://127.0.0.1:8080/healthz >/dev/null && break; sleep 0.2; done
  "$bin/overture" companies create --name ab --webhook-url http://127.0.0.1:9100/webhook \
    --verify-user-url http://127.0.0.1:9100/verify --with-sandbox-psps --sandbox-url http://127.0.0.1:8080 \
    > "$work/company.json"
  local cid sec
  cid=$(python3 -c "import json;print(json.load(open('$work/company.json'))['companyId'])")
  sec=$(python3 -c "import json;print(json.load(open('$work/company.json'))['apiSecret'])")
  # The warm-up runs before the first /proc/stat reading.
  "$bin/overture-bench" payins --duration 2s --warmup 0s --concurrency 32 --company-id "$cid" \
    --api-secret "$sec" ${RATE:+--rate "$RATE"} > /dev/null
  head -1 /proc/stat > "$work/stat.before"
  "$bin/overture-bench" payins --duration "$DUR" --warmup 0s --concurrency 32 --company-id "$cid" \
    --api-secret "$sec" --pid "$pid" ${RATE:+--rate "$RATE"} > "$work/run.json"
  head -1 /proc/stat > "$work/stat.after"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  [ -n "$schema" ] && psql "$PGURL" -qc "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1
  python3 - "$work/run.json" "$backend" "$label" "$work/stat.before" "$work/stat.after" >> "$work/runs.jsonl" <<'PY'
import json, os, sys
r = next(json.loads(l) for l in open(sys.argv[1]) if '"benchmark":"pay-in creation"' in l)
# /proc/stat's cpu line: user nice system idle iowait irq softirq steal.
b, a = ([int(x) for x in open(f).read().split()[1:9]] for f in sys.argv[4:6])
d = [y - x for x, y in zip(b, a)]
busy, n = d[0] + d[1] + d[2] + d[5] + d[6], r["throughputPerSec"] * r["durationSecs"]
print(json.dumps({"backend": sys.argv[2], "build": sys.argv[3], "throughputPerSec": r["throughputPerSec"],
    "serverCpuMsPerPayin": r["serverCpuMsPerPayin (approx.)"],
    "machineCpuMsPerPayin": round(busy * 1000 / os.sysconf("SC_CLK_TCK") / n, 3) if n else None,
    "stealPct": round(100 * d[7] / max(sum(d), 1), 1), "errors": r["errors"], "p99Ms": r["latencyMs"]["p99"]}))
PY
  tail -1 "$work/runs.jsonl"
}

for round in $(seq 1 "$ROUNDS"); do
  for backend in $BACKENDS; do
    if [ $((round % 2)) = 1 ]; then run "$OLD" $backend old; run "$NEW" $backend new
    else run "$NEW" $backend new; run "$OLD" $backend old; fi
  done
done
python3 - "$work/runs.jsonl" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
for backend in sorted({r["backend"] for r in runs}, reverse=True):
    pick = lambda b, k: [r[k] for r in runs if r["backend"] == backend and r["build"] == b]
    old_t, new_t = statistics.median(pick("old", "throughputPerSec")), statistics.median(pick("new", "throughputPerSec"))
    old_c, new_c = statistics.median(pick("old", "serverCpuMsPerPayin")), statistics.median(pick("new", "serverCpuMsPerPayin"))
    old_m, new_m = statistics.median(pick("old", "machineCpuMsPerPayin")), statistics.median(pick("new", "machineCpuMsPerPayin"))
    print(json.dumps({"backend": backend, "runsEach": len(pick("old", "throughputPerSec")),
        "medianPayinsPerSec": {"old": old_t, "new": new_t}, "throughputRatio": round(new_t / old_t, 3),
        "medianCpuMsPerPayin": {"old": old_c, "new": new_c}, "cpuRatio": round(new_c / old_c, 3),
        "medianMachineCpuMsPerPayin": {"old": old_m, "new": new_m}, "machineCpuRatio": round(new_m / old_m, 3)}))
PY
