"""Runs SQL reports on Apache Spark (local[2], UTC session, default settings) over a
halo-billing store, for benches/engines.sh.

Usage: python3 benches/engines_spark.py FILES FROM TO WORK NAME...
  FILES  a file with the store's committed data files, one a line
         (`halo-billing status --files`): never a glob of the folder
  FROM, TO  the period, YYYY-MM-DD, UTC, TO excluded
  WORK   a folder holding NAME.sql (the query) and NAME.params.sql (the one-row
         `params` table as a SELECT); writes NAME.spark.csv (header, nulls empty)
  RUNS   (environment) timed runs per query, default 3

Prints one line per query: NAME and the median of its runs in seconds (the query
collected to the driver; the JVM's start and the view's set-up not counted).
"""

import csv
import os
import statistics
import sys
import time

from pyspark.sql import SparkSession


def main():
    files_list, start, end, work = sys.argv[1:5]
    names = sys.argv[5:]
    runs = int(os.environ.get("RUNS", "3"))
    files = [line.strip() for line in open(files_list) if line.strip()]
    if not files:
        sys.exit("the store lists no data files")
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("halo-billing engines")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    # The store's hive partitions (year=, month=) under actions/; the view drops them
    # as the DuckDB one does. Date-times are UTC instants: the period's bounds too.
    base = files[0][: files[0].index("/actions/") + len("/actions")]
    frame = spark.read.option("basePath", base).parquet(*files)
    frame.drop("year", "month").createOrReplaceTempView("actions_all")
    spark.sql(
        "CREATE OR REPLACE TEMP VIEW actions AS SELECT * FROM actions_all "
        f"WHERE datetime >= TIMESTAMP '{start} 00:00:00 UTC' "
        f"AND datetime < TIMESTAMP '{end} 00:00:00 UTC'"
    )
    for name in names:
        params = open(os.path.join(work, f"{name}.params.sql")).read()
        spark.sql(params).createOrReplaceTempView("params")
        query = open(os.path.join(work, f"{name}.sql")).read().strip().rstrip(";")
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            result = spark.sql(query)
            rows = result.collect()
            times.append(time.perf_counter() - t0)
        with open(os.path.join(work, f"{name}.spark.csv"), "w", newline="") as out:
            w = csv.writer(out, lineterminator="\n")
            w.writerow(result.columns)
            for r in rows:
                w.writerow(["" if v is None else v for v in r])
        print(f"{name} {statistics.median(times):.3f}", flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
