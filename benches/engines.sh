#!/usr/bin/env bash
# Runs every SQL report of queries/ on three engines over the same store and compares
# them row for row: halo-billing (polars SQL, `report NAME --raw`), DuckDB, and Apache
# Spark (local[2], UTC session, default settings; benches/engines_spark.py). The outside
# engines read exactly the store's committed files (`halo-billing status --files`),
# through a view `actions` of the period's rows, and a one-row table `params` of the
# report's parameters (their defaults). The SQL files run unchanged on all three.
#
# Usage: benches/engines.sh STORE FROM TO        (FROM/TO: YYYY-MM-DD, UTC, TO excluded)
#   e.g. benches/engines.sh /tmp/store 2026-10-01 2026-11-01
# Environment:
#   BIN=PATH      the halo-billing binary (default: target/release/halo-billing, else debug)
#   DUCKDB=PATH   the DuckDB CLI (default: `duckdb`; `pip install duckdb-cli`)
#   PYTHON=PATH   a Python with pyspark (default: python3; `pip install pyspark`, and a
#                 Java runtime: Debian's default-jre-headless)
#   SPARK=0       leave Spark out (two engines)
#   RUNS=N        timed runs per report and engine (default 3; the median is printed)
#   QUERIES=DIR   where the outside engines take NAME.sql from (default: queries/; ours
#                 runs the SQL built into the binary); the tests use it to show that a
#                 difference is caught
# Exits 1 when any report differs (the differing lines are printed), 0 when all agree.
# Prints each engine's wall time per report: ours and DuckDB's are whole processes
# (start, read, query, CSV out); Spark's is the query alone in a running session (its
# JVM takes seconds to start: the last line gives Spark's whole run).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 3 ] || { sed -n 2,24p "$0" >&2; exit 2; }
STORE=$1 FROM=$2 TO=$3
BIN=${BIN:-target/release/halo-billing}
[ -x "$BIN" ] || BIN=target/debug/halo-billing
DUCKDB=${DUCKDB:-duckdb}
PYTHON=${PYTHON:-python3}
SPARK=${SPARK:-1}
RUNS=${RUNS:-3}
QUERIES=${QUERIES:-queries}
command -v "$DUCKDB" >/dev/null || { echo "duckdb CLI not found: pip install duckdb-cli (or set DUCKDB)" >&2; exit 1; }
if [ "$SPARK" != 0 ]; then
  "$PYTHON" -c "import pyspark" 2>/dev/null \
    || { echo "pyspark not found for $PYTHON: pip install pyspark (or set PYTHON; SPARK=0 leaves Spark out)" >&2; exit 1; }
  command -v java >/dev/null \
    || { echo "java not found: Spark needs a Java runtime (Debian: apt-get install default-jre-headless)" >&2; exit 1; }
fi
[ -f "$STORE/manifest.json" ] || { echo "$STORE is not a store (no manifest.json)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The store's committed files (never a glob: a file being written, or left by a killed
# writer, is not part of the store).
"$BIN" status --files --store "$STORE" >"$work/files"
files=$(sed "s/'/''/g; s/.*/'&'/" "$work/files" | paste -sd, -)

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
now() { date +%s.%N; }

names=()
for sql in queries/*.sql; do
  name=$(basename "$sql" .sql)
  [ -f "reports/$name.toml" ] && names+=("$name")
done

# params: one row, each declared parameter at its default (NULL when it has none), typed
# for the engine (text is `VARCHAR` in DuckDB, `STRING` in Spark).
params() {
  python3 - "reports/$1.toml" "$2" <<'PY'
import sys, tomllib
d = tomllib.load(open(sys.argv[1], "rb"))
text = sys.argv[2]
cols = []
for p in d.get("parameters", []):
    t = "BIGINT" if p["type"] == "integer" else text
    v = p.get("default")
    lit = "NULL" if v is None else (str(v) if t == "BIGINT" else "'" + str(v).replace("'", "''") + "'")
    cols.append(f"CAST({lit} AS {t}) AS {p['name']}")
print("SELECT " + (", ".join(cols) if cols else "CAST(NULL AS BIGINT) AS _"))
PY
}

declare -A ours_s duck_s spark_s
for name in "${names[@]}"; do
  cp "$QUERIES/$name.sql" "$work/$name.sql"
  params "$name" STRING >"$work/$name.params.sql"
  cat > "$work/$name.duck.sql" <<SQL
.mode csv
.headers on
.nullvalue ''
SET TimeZone = 'UTC';
CREATE VIEW actions AS
  SELECT * EXCLUDE (year, month)
  FROM read_parquet([$files], hive_partitioning = true)
  WHERE datetime >= TIMESTAMPTZ '$FROM 00:00:00+00' AND datetime < TIMESTAMPTZ '$TO 00:00:00+00';
CREATE TABLE params AS $(params "$name" VARCHAR);
$(cat "$QUERIES/$name.sql")
;
SQL
  ours=() duck=()
  for _ in $(seq "$RUNS"); do
    t0=$(now); "$BIN" report "$name" --raw --store "$STORE" --from "$FROM" --to "$TO" \
      --engine sql >"$work/$name.ours.csv" 2>"$work/$name.ours.err" \
      || { cat "$work/$name.ours.err" >&2; exit 1; }
    t1=$(now); "$DUCKDB" <"$work/$name.duck.sql" >"$work/$name.duckdb.csv"; t2=$(now)
    ours+=("$(echo "$t1 - $t0" | bc)") duck+=("$(echo "$t2 - $t1" | bc)")
  done
  ours_s[$name]=$(printf '%s\n' "${ours[@]}" | median)
  duck_s[$name]=$(printf '%s\n' "${duck[@]}" | median)
done

engines=(duckdb)
spark_total=0
if [ "$SPARK" != 0 ]; then
  engines+=(spark)
  t0=$(now)
  RUNS=$RUNS "$PYTHON" benches/engines_spark.py "$work/files" "$FROM" "$TO" "$work" "${names[@]}" \
    >"$work/spark.times" 2>"$work/spark.err" || { cat "$work/spark.err" >&2; exit 1; }
  t1=$(now)
  while read -r name t; do spark_s[$name]=$t; done <"$work/spark.times"
  spark_total=$(echo "$t1 - $t0" | bc)
fi

status=0
printf '%-16s %8s %10s %10s %10s  %s\n' report rows ours_s duckdb_s spark_s result
for name in "${names[@]}"; do
  result=same
  for engine in "${engines[@]}"; do
    # Same header, same rows (row order aside: each engine sorts its own way). Text
    # columns of the other engine's output get the spreadsheet neutralisation ours
    # carries (a leading ' before = + - @ tab CR; see src/report/safe.rs).
    if ! python3 - "reports/$name.toml" "$work/$name.ours.csv" "$work/$name.$engine.csv" "$engine" \
      >"$work/diff" <<'PY'
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
for x in only_b[:10]: print(f"> {sys.argv[4]:<12}", x)
sys.exit(1 if only_a or only_b or len(a) != len(b) else 0)
PY
    then result="DIFFERENT ($engine)"; status=1; cat "$work/diff" >&2; fi
  done
  rows=$(($(wc -l <"$work/$name.ours.csv") - 1))
  printf '%-16s %8s %10.3f %10.3f %10s  %s\n' "$name" "$rows" "${ours_s[$name]}" \
    "${duck_s[$name]}" "${spark_s[$name]:--}" "$result"
done
[ "$SPARK" = 0 ] || printf 'spark: %.1f s for the whole run (JVM start, reading the files, %s x %s queries)\n' \
  "$spark_total" "$RUNS" "${#names[@]}"
exit $status
