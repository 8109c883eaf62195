#!/usr/bin/env bash
# cluster-bench.sh runs several `herald serve` processes on one new
# PostgreSQL database and loads them together with `herald bench --url
# a,b,…` (events posted to each process in turn; the bench's receiver
# counts what arrives: lost, duplicates, latency).
#
#   scripts/cluster-bench.sh [processes] [scenario] [events]
#
# Environment:
#   PG          server URL whose user may create databases
#               (default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)
#   HERALD_BIN  the herald binary (default: built from this tree)
#   SERVE_BIN   the binary of the processes (default HERALD_BIN), to compare
#               an older Herald loaded by this tree's bench
#   KILL_AFTER  seconds into the load after which the last process is killed
#               with SIGKILL (default: none). Its deliveries are sent by the
#               others: the bench's latency max is then about the takeover time.
set -euo pipefail
procs=${1:-3}
scenario=${2:-burst}
events=${3:-0}
pg=${PG:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
cd "$(dirname "$0")/.."
bin=${HERALD_BIN:-}
if [[ -z $bin ]]; then
	bin=$(mktemp -d)/herald
	go build -o "$bin" ./cmd/herald
fi
serve=${SERVE_BIN:-$bin}
db=herald_cluster_$$
psql "$pg" -qc "CREATE DATABASE $db"
url=${pg/\/postgres\?/\/$db?}
key=hk_admin_cluster_bench_$$
logs=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	psql "$pg" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
}
trap cleanup EXIT
addrs=()
for i in $(seq 1 "$procs"); do
	port=$((18000 + RANDOM % 2000))
	HERALD_ADDR=127.0.0.1:$port HERALD_DATABASE=$url HERALD_ADMIN_KEY=$key \
		HERALD_ALLOW_PRIVATE_NETWORKS=true HERALD_API_RATE_LIMIT=0 HERALD_LOG_LEVEL=info \
		"$serve" serve >"$logs/p$i.log" 2>&1 &
	pids+=($!)
	addrs+=("http://127.0.0.1:$port")
	until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.2; done
done
# Every process dispatches holding the limits in the database.
for a in "${addrs[@]}"; do
	curl -fs "$a/metrics" | grep -q '^herald_cluster_mode' || continue # an older Herald
	until curl -fs "$a/metrics" | grep -q '^herald_cluster_mode 1'; do sleep 0.2; done
done
echo "$procs processes: ${addrs[*]} (logs in $logs)"
if [[ -n ${KILL_AFTER:-} ]]; then
	(sleep "$KILL_AFTER"; kill -9 "${pids[-1]}"; echo "killed ${addrs[-1]} (SIGKILL) at $(date +%T.%N)") &
fi
list=$(IFS=,; echo "${addrs[*]}")
args=(--url "$list" --key "$key" --scenario "$scenario")
[[ $events != 0 ]] && args+=(-n "$events")
"$bin" bench "${args[@]}"
curl -fs -H "Authorization: Bearer $key" "${addrs[0]}/v1/cluster"; echo
grep -h "took over" "$logs"/*.log || true
