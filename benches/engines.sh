#!/usr/bin/env bash
# Runs every SQL report of queries/ on two engines over the same store and compares:
# halo-billing (polars SQL, `report NAME --raw`) and DuckDB over the store's Parquet
# files, with a view `actions` of the period's rows and a one-row table `params` of the
# report's parameters (their defaults). The SQL files run unchanged on both.
#
# Usage: benches/engines.sh STORE FROM TO        (FROM/TO: YYYY-MM-DD, UTC, TO excluded)
#   e.g. benches/engines.sh /tmp/store 2026-10-01 2026-11-01
# Environment:
#   BIN=PATH      the halo-billing binary (default: target/release/halo-billing, else debug)
#   DUCKDB=PATH   the DuckDB CLI (default: `duckdb`; `pip install duckdb-cli`)
# Exits 1 when any report differs (the differing lines are printed), 0 when all agree.
# Also prints each engine's wall time per report (medians of 3 runs).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 3 ] || { sed -n 2,12p "$0" >&2; exit 2; }
STORE=$1 FROM=$2 TO=$3
BIN=${BIN:-target/release/halo-billing}
[ -x "$BIN" ] || BIN=target/debug/halo-billing
DUCKDB=${DUCKDB:-duckdb}
command -v "$DUCKDB" >/dev/null || { echo "duckdb CLI not found: pip install duckdb-cli" >&2; exit 1; }
[ -f "$STORE/manifest.json" ] || { echo "$STORE is not a store (no manifest.json)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The store's live files, from its manifest (never a glob: only committed files count).
files=$(python3 - "$STORE" <<'EOF'
import json, sys
store = sys.argv[1]
m = json.load(open(f"{store}/manifest.json"))
print(", ".join(f"'{store}/{f['path']}'" for f in m["files"]))
EOF
)

median3() { sort -n | sed -n 2p; }
now() { date +%s.%N; }

status=0
printf '%-16s %8s %10s %10s  %s\n' report rows ours_s duckdb_s result
for sql in queries/*.sql; do
  name=$(basename "$sql" .sql)
  def=reports/$name.toml
  [ -f "$def" ] || continue
  # params: one row, each declared parameter at its default (NULL when it has none).
  params=$(python3 - "$def" <<'EOF'
import sys, tomllib
d = tomllib.load(open(sys.argv[1], "rb"))
cols = []
for p in d.get("parameters", []):
    t = "BIGINT" if p["type"] == "integer" else "VARCHAR"
    v = p.get("default")
    lit = "NULL" if v is None else (str(v) if t == "BIGINT" else "'" + str(v).replace("'", "''") + "'")
    cols.append(f"CAST({lit} AS {t}) AS {p['name']}")
print("SELECT " + (", ".join(cols) if cols else "CAST(NULL AS BIGINT) AS _"))
EOF
)
  cat > "$work/$name.duck.sql" <<EOF
.mode csv
.headers on
.nullvalue ''
CREATE VIEW actions AS
  SELECT * EXCLUDE (year, month)
  FROM read_parquet([$files], hive_partitioning = true)
  WHERE datetime >= TIMESTAMP '$FROM' AND datetime < TIMESTAMP '$TO';
CREATE TABLE params AS $params;
$(cat "$sql")
;
EOF
  ours=() duck=()
  for _ in 1 2 3; do
    t0=$(now); "$BIN" report "$name" --raw --store "$STORE" --from "$FROM" --to "$TO" \
      --engine sql >"$work/$name.ours.csv" 2>"$work/$name.ours.err" \
      || { cat "$work/$name.ours.err" >&2; exit 1; }
    t1=$(now); "$DUCKDB" <"$work/$name.duck.sql" >"$work/$name.duck.csv"; t2=$(now)
    ours+=("$(echo "$t1 - $t0" | bc)") duck+=("$(echo "$t2 - $t1" | bc)")
  done
  # Same header, same rows (row order aside: each engine sorts its own way). Text
  # columns of DuckDB's output get the spreadsheet neutralisation ours carries
  # (a leading ' before = + - @ tab CR; see src/report/safe.rs).
  if python3 - "$def" "$work/$name.ours.csv" "$work/$name.duck.csv" >"$work/diff" <<'EOF2'
import csv, sys, tomllib
cols = tomllib.load(open(sys.argv[1], "rb"))["columns"]
text = [c["type"] == "text" for c in cols]
def rows(path, neutralise):
    r = list(csv.reader(open(path, newline="")))
    body = [[("'" + v if neutralise and t and v[:1] in ("=", "+", "-", "@", "\t", "\r") else v)
             for v, t in zip(row, text)] for row in r[1:]]
    return r[0], sorted(body)
(ha, a), (hb, b) = rows(sys.argv[2], False), rows(sys.argv[3], True)
if ha != hb:
    print("headers:", ha, hb); sys.exit(1)
only_a = [x for x in a if x not in b]
only_b = [x for x in b if x not in a]
for x in only_a[:10]: print("< halo-billing", x)
for x in only_b[:10]: print("> duckdb      ", x)
sys.exit(1 if only_a or only_b or len(a) != len(b) else 0)
EOF2
  then result=same; else result=DIFFERENT; status=1; cat "$work/diff" >&2; fi
  rows=$(($(wc -l <"$work/$name.ours.csv") - 1))
  printf '%-16s %8s %10.3f %10.3f  %s\n' "$name" "$rows" \
    "$(printf '%s\n' "${ours[@]}" | median3)" "$(printf '%s\n' "${duck[@]}" | median3)" "$result"
done
exit $status
