#!/usr/bin/env bash
# Reproduces docs/PERFORMANCE.md on this machine: builds release binaries, then for each backend
# starts `overture serve` (sandboxes in-process, zero sandbox delay), then creates a company
# whose PSP accounts are opened at those sandboxes, and runs
# overture-bench and the database baselines. Prints one JSON document per measurement.
# The backlog section runs the PSP sandboxes as their own process (`overture sandbox`) instead.
#
#   bench/run.sh            # everything (about 15 minutes on 2 cores with the 50,000 backlog)
#   bench/run.sh quick      # shorter runs, no 10k-pending run, no backlog section
#   bench/run.sh backlog    # only the backlog section, on PostgreSQL then SQLite
#   bench/run.sh overview   # only the back office's overview with OVERVIEW_ROWS (1,000,000)
#                           # transactions on PostgreSQL
#
# Backlog section settings (environment): BACKLOG pay-ins left pending (default 50000),
# MIXED_DURATION of the fixed 200/s mixed run (default 120s), BACKLOG_BACKENDS (default
# "postgres sqlite").
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-full}
case "$mode" in full|quick|backlog|overview) ;; *) echo "usage: $0 [full|quick|backlog|overview]" >&2; exit 2;; esac
DUR=15s; PENDING=10000; WATCH=60s
if [ "$mode" = quick ]; then DUR=5s; PENDING=0; fi
BACKLOG=${BACKLOG:-50000}; MIXED_DURATION=${MIXED_DURATION:-120s}
SANDBOX_LISTEN=127.0.0.1:8090
PGURL=${OVERTURE_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
cargo build --release -q -p overture-server -p overture-bench
B=$PWD/target/release
work=$(mktemp -d)
# PostgreSQL vacuums and analyzes in the background by default; a server where autovacuum was
# turned off lets every dead row of a churning table pile up, which no application can measure
# around. Turn it on for the run (and back off afterwards) when it is off, and say so.
AUTOVACUUM=$(psql "$PGURL" -Atc 'show autovacuum' 2>/dev/null || echo unknown)
restore_autovacuum() {
  if [ "$AUTOVACUUM" = off ]; then
    psql "$PGURL" -qc 'ALTER SYSTEM RESET autovacuum' -c 'SELECT pg_reload_conf()' >/dev/null 2>&1 || true
  fi
}
if [ "$AUTOVACUUM" = off ]; then
  psql "$PGURL" -qc 'ALTER SYSTEM SET autovacuum = on' -c 'SELECT pg_reload_conf()' >/dev/null
  echo '{"note":"PostgreSQL had autovacuum off; turned on (its default) for this run, reset afterwards"}'
fi
trap 'kill $(jobs -p) 2>/dev/null || true; restore_autovacuum' EXIT
echo "{\"machine\":\"$(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r)\",\"date\":\"$(date -u +%FT%TZ)\"}"

SERVE_PID=""; SANDBOX_PID=""
start() { # backend [sandbox base URL, default: serve's in-process sandboxes]
  local sandbox_url=${2:-http://127.0.0.1:8080}
  export OVERTURE_MASTER_KEY; OVERTURE_MASTER_KEY=$(head -c32 /dev/urandom | base64)
  if [ "$1" = postgres ]; then
    export OVERTURE_DATABASE_URL=$PGURL OVERTURE_DB_SCHEMA=bench_$(date +%s%N)
  else
    unset OVERTURE_DB_SCHEMA; export OVERTURE_DATABASE_URL=sqlite://$work/bench-$(date +%s%N).db
  fi
  OVERTURE_SANDBOX_DELAY=0 OVERTURE_LISTEN=127.0.0.1:8080 RUST_LOG=warn $B/overture serve > "$work/serve.out" 2> "$work/serve.err" &
  SERVE_PID=$!
  for _ in $(seq 1 50); do curl -sf http://127.0.0.1:8080/healthz >/dev/null && break; sleep 0.2; done
  # The company's PSP accounts are opened at the sandboxes (serve's in-process ones by
  # default), so serve runs first.
  $B/overture companies create --name bench --webhook-url http://127.0.0.1:9100/webhook \
    --verify-user-url http://127.0.0.1:9100/verify --with-sandbox-psps --sandbox-url "$sandbox_url" > "$work/company.json"
  CID=$(python3 -c "import json;print(json.load(open('$work/company.json'))['companyId'])")
  SEC=$(python3 -c "import json;print(json.load(open('$work/company.json'))['apiSecret'])")
}
stop() { kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true; }
# The PSP sandboxes in their own process (as a real PSP is), zero processing delay, a fresh seed.
start_sandbox() {
  rm -f "$work/sandbox.out"  # its "listening" line says it is ready
  OVERTURE_SANDBOX_SEED=$(head -c32 /dev/urandom | base64) OVERTURE_SANDBOX_DELAY=0 RUST_LOG=warn \
    $B/overture sandbox --listen $SANDBOX_LISTEN > "$work/sandbox.out" 2> "$work/sandbox.err" &
  SANDBOX_PID=$!
  for _ in $(seq 1 50); do grep -q listening "$work/sandbox.out" 2>/dev/null && break; sleep 0.2; done
  grep -q listening "$work/sandbox.out" || { cat "$work/sandbox.err" >&2; exit 1; }
}
stop_sandbox() { kill "$SANDBOX_PID"; wait "$SANDBOX_PID" 2>/dev/null || true; }
bench() { $B/overture-bench "$@" --company-id "$CID" --api-secret "$SEC" --pid "$SERVE_PID"; }

# --- PostgreSQL
postgres_section() {
  start postgres
  bench payins --duration $DUR --concurrency 32 | tee "$work/pg-payins.json"
  stop
  # A fresh server: the closed-loop run leaves thousands of unpaid pay-ins whose backstop polls
  # would otherwise land inside the fixed-rate measurement.
  start postgres
  bench payins --duration $DUR --rate 500 | tee "$work/pg-rate.json"
  stop
  start postgres
  bench payouts --duration $DUR --rate 500 --sink 127.0.0.1:9100
  stop  # the baselines measure the database alone
  # serve's demo company has a FORUMPAY account too: take the bench company's.
  ACC=$(psql "$PGURL" -Atc "select id from $OVERTURE_DB_SCHEMA.psp_accounts where psp_type='FORUMPAY' and company_id='$CID'")
  # The database's own limit: the best of three client counts, on the same schema.
  : > "$work/pgbench.txt"
  for clients in 8 16 32; do
    PGOPTIONS="-c search_path=$OVERTURE_DB_SCHEMA" pgbench "$PGURL" -n -M prepared -c $clients -j 2 -T ${DUR%s} \
      -D company="$CID" -D account="$ACC" -f bench/pgbench-payin.sql >> "$work/pgbench.txt" 2>&1
  done
  # The database's own latency tail at a fixed 500/s (what "p99 at 500/s" cannot beat).
  rm -f pgbench_log.*
  PGOPTIONS="-c search_path=$OVERTURE_DB_SCHEMA" pgbench "$PGURL" -n -M prepared -R 500 -c 32 -j 2 -T ${DUR%s} -l \
    -D company="$CID" -D account="$ACC" -f bench/pgbench-payin.sql > /dev/null 2>&1
  cat pgbench_log.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {printf "{\"benchmark\":\"pgbench alone at a fixed 500/s\",\"p50Ms\":%.1f,\"p90Ms\":%.1f,\"p99Ms\":%.1f,\"maxMs\":%.1f}\n", a[int(NR*0.5)]/1000, a[int(NR*0.9)]/1000, a[int(NR*0.99)]/1000, a[NR]/1000}'
  rm -f pgbench_log.*
  python3 - "$work" <<'PY'
import json, re, sys
w = sys.argv[1]
def result(path):
    return next(json.loads(l) for l in open(path) if '"benchmark":"pay-in creation"' in l)
ours = result(f"{w}/pg-payins.json")["throughputPerSec"]
tps = max(float(t) for t in re.findall(r"tps = ([0-9.]+)", open(f"{w}/pgbench.txt").read()))
print(json.dumps({"benchmark": "PostgreSQL ratio", "overturePayinsPerSec": ours, "pgbenchSameCommitsPerSec": round(tps, 1), "ratio": round(ours / tps, 2)}))
PY
}

# --- SQLite
sqlite_section() {
  start sqlite
  bench payins --duration $DUR --concurrency 32 | tee "$work/sq-payins.json"
  stop
  $B/overture-bench sqlite-baseline --path "$work/baseline.db" --duration $DUR | tee "$work/sq-base.json"
  python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
ours = next(json.loads(l) for l in open(f"{w}/sq-payins.json") if '"benchmark":"pay-in creation"' in l)["throughputPerSec"]
base = json.loads(open(f"{w}/sq-base.json").read().strip().splitlines()[-1])["payinsPerSec"]
print(json.dumps({"benchmark": "SQLite ratio", "overturePayinsPerSec": ours, "sqliteLoopPerSec": base, "ratio": round(ours / base, 2)}))
PY
}

# --- 10,000 payouts pending at the PSP: memory and polling (PostgreSQL)
pending_section() {
  if [ "$PENDING" -gt 0 ]; then
    start postgres
    bench pending --count $PENDING --watch $WATCH --sink 127.0.0.1:9100
    stop
  fi
}

# --- Backlog: throughput and latency must not depend on the unpaid pay-ins waiting at the PSP.
# Per backend, on a fresh server whose company's PSP accounts are at `overture sandbox` (its own
# process): a fixed 200/s mix on the empty database (the same server's p99 without a backlog),
# a closed loop, then $BACKLOG pay-ins left unpaid, then the same closed loop at once (target:
# ≥ 0.90 of the first), then the fixed 200/s mix again for $MIXED_DURATION (target: p99 ≤ 25 ms,
# also per 10 s window; compared with the empty-database mix).
backlog_section() { # backend label
  local tag=bl-$1
  start_sandbox
  start "$1" http://$SANDBOX_LISTEN
  bench mixed --rate 200 --duration "$MIXED_DURATION" --sink 127.0.0.1:9100 | tee "$work/$tag-mixed-empty.json"
  bench payins --duration 10s --concurrency 32 | tee "$work/$tag-empty.json"
  bench backlog --count "$BACKLOG" --concurrency 32 | tee "$work/$tag-create.json"
  bench payins --duration 10s --concurrency 32 | tee "$work/$tag-after.json"
  python3 - "$work" "$tag" "$2" <<'PY'
import json, sys
w, tag, label = sys.argv[1:4]
def last(name):
    return json.loads(open(f"{w}/{tag}-{name}.json").read().strip().splitlines()[-1])
empty, created, after = last("empty"), last("create"), last("after")
ratio = after["throughputPerSec"] / max(empty["throughputPerSec"], 0.1)
print(json.dumps({"benchmark": f"backlog: closed loop, 32 clients, with the backlog vs empty ({label})",
    "backlogCreated": created["created"], "backlogErrors": created["errors"],
    "emptyPayinsPerSec": empty["throughputPerSec"], "withBacklogPayinsPerSec": after["throughputPerSec"],
    "ratio": round(ratio, 3), "target": ">= 0.90", "met": ratio >= 0.90,
    "serverCpuMsPerPayin": {"empty": empty.get("serverCpuMsPerPayin (approx.)"),
                            "withBacklog": after.get("serverCpuMsPerPayin (approx.)")},
    "pollsDuringRun": {"empty": empty.get("pollsDuringRun"), "withBacklog": after.get("pollsDuringRun")},
    "p99Ms": {"empty": empty["latencyMs"]["p99"], "withBacklog": after["latencyMs"]["p99"]}}))
PY
  bench mixed --rate 200 --duration "$MIXED_DURATION" --sink 127.0.0.1:9100 | tee "$work/$tag-mixed.json"
  python3 - "$work" "$tag" "$2" <<'PY'
import json, sys
w, tag, label = sys.argv[1:4]
m = json.loads(open(f"{w}/{tag}-mixed.json").read().strip().splitlines()[-1])
e = json.loads(open(f"{w}/{tag}-mixed-empty.json").read().strip().splitlines()[-1])
p99, windows = m["latencyMs"]["p99"], [x for x in m["p99ByWindowMs"] if x is not None]
print(json.dumps({"benchmark": f"backlog: fixed 200/s mix on the backlog ({label})",
    "p99Ms": p99, "worstWindowP99Ms": max(windows, default=None), "p99ByWindowMs": m["p99ByWindowMs"],
    "emptyDatabaseP99Ms": e["latencyMs"]["p99"], "emptyDatabaseP99ByWindowMs": e["p99ByWindowMs"],
    "errors": m["errors"], "throughputPerSec": m["throughputPerSec"], "pollsDuringRun": m.get("pollsDuringRun"),
    "target": "p99 <= 25 ms", "met": p99 <= 25 and m["errors"] == 0}))
PY
  stop
  stop_sandbox
}

# --- The back office's overview on PostgreSQL with $OVERVIEW_ROWS transactions over 30 days:
# each period (24 h, 7 d, 30 d), for all companies and for the seeded one, fetched 10 times by a
# logged-in operator; target: every answer in <= 500 ms.
overview_section() {
  local rows=${OVERVIEW_ROWS:-1000000}
  start postgres
  local now; now=$(($(date +%s) * 1000))
  PGOPTIONS="-c search_path=$OVERTURE_DB_SCHEMA" psql "$PGURL" -q -v n="$rows" -v company="$CID" -v now="$now" \
    -f bench/overview-seed.sql
  printf '%s\n' 'bench operator passphrase' | $B/overture operators create --email bench@ops.example \
    --role viewer --password-stdin > /dev/null
  local jar="$work/cookies"
  csrf=$(curl -s -c "$jar" http://127.0.0.1:8080/backoffice/login | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
  curl -s -b "$jar" -c "$jar" -o /dev/null -d "csrf=$csrf" --data-urlencode "email=bench@ops.example" \
    --data-urlencode "password=bench operator passphrase" http://127.0.0.1:8080/backoffice/login
  : > "$work/overview.txt"
  for period in 24h 7d 30d; do
    for company in "" "$CID"; do
      for _ in $(seq 1 10); do
        curl -s -b "$jar" -o /dev/null -w "$period ${company:+one} %{http_code} %{time_total}\n" \
          "http://127.0.0.1:8080/backoffice/overview?period=$period&company=$company" >> "$work/overview.txt"
      done
    done
  done
  python3 - "$work" "$rows" <<'PY'
import json, sys
w, rows = sys.argv[1], int(sys.argv[2])
runs = [l.split() for l in open(f"{w}/overview.txt")]
bad = [r for r in runs if r[-2] != "200"]
times = sorted(float(r[-1]) * 1000 for r in runs)
by = {}
for r in runs:
    key = r[0] + (" one company" if len(r) == 4 else " all companies")
    by.setdefault(key, []).append(round(float(r[-1]) * 1000, 1))
print(json.dumps({"benchmark": "back-office overview on PostgreSQL", "transactions": rows,
    "requests": len(runs), "non200": len(bad), "p50Ms": round(times[len(times)//2], 1),
    "maxMs": round(times[-1], 1), "maxMsByView": {k: max(v) for k, v in by.items()},
    "p50MsByView": {k: sorted(v)[len(v)//2] for k, v in by.items()},
    "target": "<= 500 ms", "met": not bad and times[-1] <= 500}))
PY
  stop
  # A million seeded rows are not worth keeping: the schema goes with the run.
  psql "$PGURL" -qc "DROP SCHEMA $OVERTURE_DB_SCHEMA CASCADE" 2>/dev/null || true
}

if [ "$mode" = overview ]; then
  overview_section
  exit 0
fi
if [ "$mode" != backlog ]; then
  postgres_section
  sqlite_section
  pending_section
fi
if [ "$mode" != quick ]; then
  for backend in ${BACKLOG_BACKENDS:-postgres sqlite}; do
    case "$backend" in
      postgres) backlog_section postgres PostgreSQL ;;
      sqlite) backlog_section sqlite SQLite ;;
    esac
  done
fi
