#!/usr/bin/env bash
# Times `halo-billing report contracts` + `report invoices` against DuckDB running the
# equivalent GROUP BY over the same Parquet files, side by side, and prints medians,
# peak memory and the ratio.
#
# Usage: benches/vs_duckdb.sh [SIZES...]        (default: 1000000 10000000)
#   RUNS=7        timed runs per command (alternating ours / DuckDB)
#   WORK=DIR      where generated data and stores are kept (default target/bench-data)
#   DUCKDB=PATH   the DuckDB CLI (default: `duckdb` on PATH; `pip install duckdb-cli`)
#   BIN=PATH      a halo-billing binary to time (default: build target/release/halo-billing)
#
# Each size is generated once (halo-billing generate, seed 1, 2026-01..2026-12) and
# imported once (import time and store size are printed); later runs reuse them.
# Two periods are timed: one month (2026-10, ~1/12 of the rows, partition-pruned by
# both engines) and the whole year (every row).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=("${@:-1000000 10000000}")
read -r -a SIZES <<<"${SIZES[*]}"
RUNS=${RUNS:-7}
WORK=${WORK:-target/bench-data}
DUCKDB=${DUCKDB:-duckdb}
command -v "$DUCKDB" >/dev/null || { echo "duckdb CLI not found: pip install duckdb-cli" >&2; exit 1; }

if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=$PWD/target/release/halo-billing
fi
mkdir -p "$WORK"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $("$DUCKDB" --version | head -1 | cut -c1-20); halo-billing $("$BIN" --version | cut -d' ' -f2)"

# timed CMD... -> prints "seconds max_rss_kb" of the command (wall clock measured around
# the child process only), discarding its output; fails if the command fails.
timed() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.perf_counter()
p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
e = time.perf_counter() - t
if p.returncode != 0:
    sys.stderr.write(p.stderr.decode()); sys.exit(p.returncode)
print(f"{e:.4f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
PY
}

median() { python3 -c 'import sys,statistics; v=[float(x) for x in sys.argv[1:]]; print(f"{statistics.median(v):.3f}")' "$@"; }

duck_sql() { # store, kind, from, to
  local files="$1/actions/*/*/*.parquet" key attr
  if [ "$2" = contracts ]; then
    key="coalesce(action_contract_id, 0)"; attr="any_value(CASE WHEN action_contract_id IS NULL THEN NULL ELSE action_contract_ref END)"
  else
    key="actioninvoicenumber"; attr="max(invoice_id)"
  fi
  local h="/ 3600000.0, 4)"
  cat <<SQL
COPY (
  SELECT $key AS k, $attr AS a, count(*) AS actions,
    round(sum(timetaken_ms) $h AS time_taken_hours, round(sum(nonbilltime_ms) $h AS non_bill_hours,
    round(sum(traveltime_ms) $h AS travel_hours, sum(mileage_e4) / 10000 AS mileage,
    round(sum(actionchargehours_ms) $h AS chargeable_hours, sum(actionchargeamount_cents) / 100 AS chargeable_amount,
    round(sum(actionnonchargehours_ms) $h AS non_chargeable_hours, sum(actionnonchargeamount_cents) / 100 AS non_chargeable_amount,
    round(sum(actionprepayhours_ms) $h AS prepay_hours, sum(actionprepayamount_cents) / 100 AS prepay_amount
  FROM read_parquet('$files', hive_partitioning = true)
  WHERE make_date(year, month, 1) >= date_trunc('month', TIMESTAMP '$3') AND make_date(year, month, 1) < TIMESTAMP '$4'
    AND datetime >= TIMESTAMP '$3' AND datetime < TIMESTAMP '$4'
  GROUP BY 1 ORDER BY 1 NULLS FIRST
) TO '/dev/stdout' (HEADER);
SQL
}

printf '\n%-9s %-6s %-9s %12s %12s %8s %12s %12s\n' rows period report "ours_s" "duckdb_s" "ratio" "ours_MB" "duckdb_MB"
for n in "${SIZES[@]}"; do
  gen="$WORK/gen-$n" store="$WORK/store-$n"
  if [ ! -f "$store/manifest.json" ]; then
    [ -d "$gen" ] || { echo "generating $n actions..." >&2; "$BIN" -q generate --actions "$n" --seed 1 --from 2026-01 --to 2026-12 --out "$gen"; }
    echo "importing $n actions..." >&2
    read -r secs kb < <(timed "$BIN" -q import --store "$store" "$gen")
    echo "import of $n actions: ${secs}s, peak ${kb} KB, input $(du -sh "$gen" | cut -f1), store $(du -sh "$store/actions" | cut -f1)" >&2
  fi
  for period in month year; do
    if [ $period = month ]; then args=(--period 2026-10); from="2026-10-01"; to="2026-11-01";
    else args=(--from 2026-01-01 --to 2027-01-01); from="2026-01-01"; to="2027-01-01"; fi
    for kind in contracts invoices; do
      sql=$(duck_sql "$store" "$kind" "$from" "$to")
      ours=() duck=() ours_m=() duck_m=()
      timed "$BIN" -q report "$kind" "${args[@]}" --store "$store" >/dev/null  # warm the page cache
      timed "$DUCKDB" -c "$sql" >/dev/null
      for _ in $(seq "$RUNS"); do
        read -r s m < <(timed "$BIN" -q report "$kind" "${args[@]}" --store "$store"); ours+=("$s"); ours_m+=("$m")
        read -r s m < <(timed "$DUCKDB" -c "$sql"); duck+=("$s"); duck_m+=("$m")
      done
      o=$(median "${ours[@]}") d=$(median "${duck[@]}")
      om=$(median "${ours_m[@]}") dm=$(median "${duck_m[@]}")
      ratio=$(python3 -c "print(f'{$d/$o:.2f}x' if $o > 0 else 'n/a')")
      printf '%-9s %-6s %-9s %12s %12s %8s %12.0f %12.0f\n' "$n" "$period" "$kind" "$o" "$d" "$ratio" "$(python3 -c "print($om/1024)")" "$(python3 -c "print($dm/1024)")"
    done
  done
done
echo "(ratio = DuckDB time / our time; above 1 means we are faster. Medians of $RUNS runs.)"
