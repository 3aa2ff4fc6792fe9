-- The contracts report of 2026-10 (UTC) over the store's Parquet files, in DuckDB.
-- Amounts are exact (integer cents summed, then divided); hours are rounded floats here.
SELECT coalesce(action_contract_id, 0) AS contract_id,
       any_value(action_contract_ref) AS contract_ref,
       count(*) AS actions,
       round(sum(timetaken_ms) / 3600000.0, 4) AS time_taken_hours,
       round(sum(actionchargehours_ms) / 3600000.0, 4) AS chargeable_hours,
       sum(actionchargeamount_cents) / 100 AS chargeable_amount,
       sum(actionnonchargeamount_cents) / 100 AS non_chargeable_amount,
       sum(actionprepayamount_cents) / 100 AS prepay_amount
FROM read_parquet('STORE/actions/*/*/*.parquet', hive_partitioning = true)
WHERE year = 2026 AND month = 10
GROUP BY 1
ORDER BY 1;
