#!/usr/bin/env bash
# Times each `halo-billing report` (contracts, invoices and the month-end pack: unbilled,
# agents, leakage, prepay, actions --contract 101, charge-rates) against DuckDB running
# the equivalent SQL over the same Parquet files, side by side, and prints medians, peak
# memory and the ratio. REPORTS="contracts agents" limits the list.
#
# Usage: benches/vs_duckdb.sh [SIZES...]        (default: 1000000 10000000)
#   RUNS=7        timed runs per command (alternating ours / DuckDB)
#   WORK=DIR      where generated data and stores are kept (default target/bench-data)
#   DUCKDB=PATH   the DuckDB CLI (default: `duckdb` on PATH; `pip install duckdb-cli`)
#   BIN=PATH      a halo-billing binary to time (default: build target/release/halo-billing)
#   IMPORT=1      also time a fresh import of each size (median of IMPORT_RUNS=3) and print it
#                 against the parse limit
#                 (../shared/tools/parse-limit, built into WORK; PARSE_LIMIT=PATH to give one)
#
# Each size is generated once (halo-billing generate, seed 1, 2026-01..2026-12) and
# imported once (import time and store size are printed); later runs reuse them.
# Two periods are timed: one month (2026-10, ~1/12 of the rows, partition-pruned by
# both engines) and the whole year (every row). Our grouping reports (contracts,
# invoices, unbilled, agents, leakage, prepay) take whole months from the summaries in
# each file's footer (written at import; see src/fold/footer.rs) rather than its rows;
# DuckDB reads the rows of the same files.
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

duck_sql() { # store, kind, from, to: DuckDB's SQL for the same report (hours as rounded floats)
  local src="read_parquet('$1/actions/*/*/*.parquet', hive_partitioning = true)"
  local range="make_date(year, month, 1) >= date_trunc('month', TIMESTAMP '$3') AND make_date(year, month, 1) < TIMESTAMP '$4'
    AND datetime >= TIMESTAMP '$3' AND datetime < TIMESTAMP '$4'"
  local h="/ 3600000.0, 4)" q
  local measures="round(sum(timetaken_ms) $h AS time_taken_hours, round(sum(nonbilltime_ms) $h AS non_bill_hours,
    round(sum(traveltime_ms) $h AS travel_hours, sum(mileage_e4) / 10000 AS mileage,
    round(sum(actionchargehours_ms) $h AS chargeable_hours, sum(actionchargeamount_cents) / 100 AS chargeable_amount,
    round(sum(actionnonchargehours_ms) $h AS non_chargeable_hours, sum(actionnonchargeamount_cents) / 100 AS non_chargeable_amount,
    round(sum(actionprepayhours_ms) $h AS prepay_hours, sum(actionprepayamount_cents) / 100 AS prepay_amount"
  case "$2" in
    contracts) q="SELECT coalesce(action_contract_id, 0) AS k,
        any_value(CASE WHEN action_contract_id IS NULL THEN NULL ELSE action_contract_ref END) AS a, count(*) AS actions, $measures
      FROM $src WHERE $range GROUP BY 1 ORDER BY 1 NULLS FIRST" ;;
    invoices) q="SELECT actioninvoicenumber AS k, max(invoice_id) AS a, count(*) AS actions, $measures
      FROM $src WHERE $range GROUP BY 1 ORDER BY 1 NULLS FIRST" ;;
    unbilled) q="SELECT action_contract_id AS contract_id, any_value(action_contract_ref) AS contract_ref, count(*) AS actions,
        min(datetime)::DATE AS oldest, max(datetime)::DATE AS newest,
        round(sum(actionchargehours_ms) $h AS chargeable_hours, sum(actionchargeamount_cents) / 100 AS chargeable_amount,
        sum(CASE WHEN date_diff('day', datetime, TIMESTAMP '$4') <= 30 THEN actionchargeamount_cents ELSE 0 END) / 100 AS age_0_30_amount,
        sum(CASE WHEN date_diff('day', datetime, TIMESTAMP '$4') BETWEEN 31 AND 60 THEN actionchargeamount_cents ELSE 0 END) / 100 AS age_31_60_amount,
        sum(CASE WHEN date_diff('day', datetime, TIMESTAMP '$4') BETWEEN 61 AND 90 THEN actionchargeamount_cents ELSE 0 END) / 100 AS age_61_90_amount,
        sum(CASE WHEN date_diff('day', datetime, TIMESTAMP '$4') > 90 THEN actionchargeamount_cents ELSE 0 END) / 100 AS age_over_90_amount
      FROM $src WHERE $range AND (actionchargehours_ms > 0 OR actionchargeamount_cents > 0)
        AND actioninvoicenumber IS NULL AND coalesce(invoice_id, 0) <= 0
      GROUP BY 1 ORDER BY 1 NULLS FIRST" ;;
    agents) q="SELECT who_agentid AS agent_id, mode(who) AS agent, count(*) AS actions,
        round(sum(timetaken_ms) $h AS time_taken_hours, round(sum(actionchargehours_ms) $h AS chargeable_hours,
        round(sum(actionnonchargehours_ms) $h AS non_chargeable_hours, round(sum(actionprepayhours_ms) $h AS prepay_hours,
        sum(actionchargeamount_cents) / 100 AS chargeable_amount, sum(actionprepayamount_cents) / 100 AS prepay_amount,
        round(100.0 * (sum(actionchargehours_ms) + sum(actionprepayhours_ms)) / nullif(sum(timetaken_ms), 0), 1) AS billable_percent,
        round((sum(actionchargeamount_cents) + sum(actionprepayamount_cents)) * 36000.0
              / nullif(sum(actionchargehours_ms) + sum(actionprepayhours_ms), 0), 2) AS effective_rate
      FROM $src WHERE $range GROUP BY 1 ORDER BY 1 NULLS FIRST" ;;
    leakage) q="SELECT ticket_id, id, datetime, who_agentid AS agent_id, who AS agent, action_contract_id AS contract_id,
        action_contract_ref AS contract_ref, round(timetaken_ms $h AS time_taken_hours,
        round(actionchargehours_ms $h AS chargeable_hours, actionchargeamount_cents / 100 AS chargeable_amount,
        round(actionprepayhours_ms $h AS prepay_hours, actionprepayamount_cents / 100 AS prepay_amount,
        CASE WHEN actionchargehours_ms > 0 AND actionchargeamount_cents = 0 THEN 'charged_hours_without_amount'
             ELSE 'billable_not_charged' END AS reason
      FROM $src WHERE $range AND ((actionchargehours_ms > 0 AND actionchargeamount_cents = 0)
        OR (actisbillable AND timetaken_ms > 0 AND actionchargehours_ms = 0 AND actionprepayhours_ms = 0))
      ORDER BY datetime, ticket_id, id" ;;
    prepay) q="SELECT contract_id, contract_ref, month, round(ms $h AS prepay_hours, cents / 100 AS prepay_amount,
        round(sum(ms) OVER w $h AS running_hours, sum(cents) OVER w / 100 AS running_amount
      FROM (SELECT action_contract_id AS contract_id, any_value(action_contract_ref) AS contract_ref,
              strftime(datetime, '%Y-%m') AS month, sum(actionprepayhours_ms) AS ms, sum(actionprepayamount_cents) AS cents
            FROM $src WHERE $range AND action_contract_id IS NOT NULL
              AND (actionprepayhours_ms <> 0 OR actionprepayamount_cents <> 0) GROUP BY 1, 3)
      WINDOW w AS (PARTITION BY contract_id ORDER BY month) ORDER BY 1 NULLS FIRST, 3" ;;
    actions) q="SELECT ticket_id, id, datetime, who_agentid AS agent_id, who AS agent, action_contract_id AS contract_id,
        action_contract_ref AS contract_ref, actioninvoicenumber AS invoice_number, invoice_id,
        round(timetaken_ms $h AS time_taken_hours, round(nonbilltime_ms $h AS non_bill_hours, round(traveltime_ms $h AS travel_hours,
        mileage_e4 / 10000 AS mileage, round(actionchargehours_ms $h AS chargeable_hours, actionchargeamount_cents / 100 AS chargeable_amount,
        round(actionnonchargehours_ms $h AS non_chargeable_hours, actionnonchargeamount_cents / 100 AS non_chargeable_amount,
        round(actionprepayhours_ms $h AS prepay_hours, actionprepayamount_cents / 100 AS prepay_amount,
        split_part(note, chr(10), 1) AS note
      FROM $src WHERE $range AND action_contract_id = 101 ORDER BY datetime, ticket_id, id" ;;
    charge-rates) # the query file itself, over a view of the period (as benches/engines.sh)
      printf "CREATE VIEW actions AS SELECT * EXCLUDE (year, month) FROM %s WHERE %s;\nCREATE TABLE params AS SELECT CAST(NULL AS BIGINT) AS contract;\n" "$src" "$range"
      echo "COPY ($(grep -v '^--' queries/charge-rates.sql)) TO '/dev/stdout' (HEADER);"
      return ;;
  esac
  echo "COPY ($q) TO '/dev/stdout' (HEADER);"
}

# Our command for a report kind.
ours_args() {
  case "$1" in
    actions) echo "actions --contract 101" ;;
    *) echo "$1" ;;
  esac
}

# The import yardstick (issue 11): ../shared/tools/parse-limit, a bare serde_json typed parse
# of the same files, built once into $WORK. IMPORT=1 times a fresh import of each size in
# this run and prints its throughput next to the parse limit's, on the same files.
parse_limit() { # gen folder -> "MB/s on all threads" of the bare parse
  local tool=../shared/tools/parse-limit flat="$1.flat"
  if [ -z "${PARSE_LIMIT:-}" ]; then
    [ -f "$tool/Cargo.toml" ] || { echo "n/a"; return; }
    CARGO_TARGET_DIR="$WORK/parse-limit-target" cargo build --release --quiet --manifest-path "$tool/Cargo.toml" >&2
    PARSE_LIMIT="$WORK/parse-limit-target/release/parse-limit"
  fi
  # parse-limit reads one folder: the month folders' pages, linked side by side.
  # Made under another name and renamed when whole, so that a stopped run leaves no half
  # folder to be measured next time; one process for the 100,000 links of 10M.
  if [ ! -d "$flat" ]; then
    rm -rf "$flat.part" && mkdir -p "$flat.part"
    python3 -c 'import os,sys,glob
src,dst=sys.argv[1:]
for f in glob.glob(os.path.join(src,"*","*.json")):
    os.symlink(os.path.realpath(f),os.path.join(dst,os.path.basename(os.path.dirname(f))+"-"+os.path.basename(f)))' "$1" "$flat.part"
    mv "$flat.part" "$flat"
  fi
  "$PARSE_LIMIT" "$flat" | sed -n 's/.* threads \([0-9.]*\) MB\/s.*/\1/p'
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
  if [ "${IMPORT:-0}" = 1 ]; then
    fresh="$WORK/import-check-$n"; rm -rf "$fresh"
    "$BIN" -q import --store "$WORK/warm-$n" "$gen" >/dev/null 2>&1 || true  # warm the page cache
    rm -rf "$WORK/warm-$n"
    runs=() peaks=()
    for _ in $(seq "${IMPORT_RUNS:-3}"); do
      read -r s kb < <(timed "$BIN" -q import --store "$fresh" "$gen"); runs+=("$s"); peaks+=("$kb")
      rm -rf "$fresh"
    done
    secs=$(median "${runs[@]}") kb=$(median "${peaks[@]}"); kb=${kb%.*}
    bytes=$(du -sbL --apparent-size "$gen" | cut -f1)
    ours=$(python3 -c "print(f'{$bytes/1e6/$secs:.0f}')")
    limit=$(parse_limit "$gen")
    ratio=$(python3 -c "print(f'{$ours/$limit:.2f}' if '$limit' not in ('', 'n/a') else 'n/a')")
    echo "import of $n actions: ${secs}s = ${ours} MB/s, peak $((kb / 1024)) MB; parse limit ${limit} MB/s; ratio ${ratio} (target 0.50)"
  fi
  for period in month year; do
    if [ $period = month ]; then args=(--period 2026-10); from="2026-10-01"; to="2026-11-01";
    else args=(--from 2026-01-01 --to 2027-01-01); from="2026-01-01"; to="2027-01-01"; fi
    for kind in ${REPORTS:-contracts invoices unbilled agents leakage prepay actions charge-rates}; do
      read -r -a kargs <<<"$(ours_args "$kind")"
      sql=$(duck_sql "$store" "$kind" "$from" "$to")
      ours=() duck=() ours_m=() duck_m=()
      timed "$BIN" -q report "${kargs[@]}" "${args[@]}" --store "$store" >/dev/null  # warm the page cache
      timed "$DUCKDB" -c "$sql" >/dev/null
      for _ in $(seq "$RUNS"); do
        read -r s m < <(timed "$BIN" -q report "${kargs[@]}" "${args[@]}" --store "$store"); ours+=("$s"); ours_m+=("$m")
        read -r s m < <(timed "$DUCKDB" -c "$sql"); duck+=("$s"); duck_m+=("$m")
      done
      o=$(median "${ours[@]}") d=$(median "${duck[@]}")
      om=$(median "${ours_m[@]}") dm=$(median "${duck_m[@]}")
      ratio=$(python3 -c "print(f'{$d/$o:.2f}x' if $o > 0 else 'n/a')")
      printf '%-9s %-6s %-9s %12s %12s %8s %12.0f %12.0f\n' "$n" "$period" "$kind" "$o" "$d" "$ratio" "$(python3 -c "print($om/1024)")" "$(python3 -c "print($dm/1024)")"
    done
  done
done
echo "(ratio = DuckDB time / our time; above 1 means we are faster, the target of issue 11 is 2.00x or more. Medians of $RUNS runs."
echo " Both read the same files; ours take whole months of the grouping reports from the summaries each file's footer holds, made at import, which DuckDB does not read.)"
