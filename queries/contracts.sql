-- contracts: the period's totals per contract, the SQL twin of `report contracts`
-- (which runs on the rayon path; tests/report_files.rs holds the two equal).
-- Actions without a contract (no id, or 0) form the row with an empty contract_id.
-- Figures stay integers (ms, cents, 1/10,000 mile); reports/contracts.toml says how
-- each column is shown. Runs unchanged on halo-billing (polars SQL) and on DuckDB over
-- the store's Parquet (benches/engines.sh).
-- Where a contract carries several references, this shows the greatest; `report
-- contracts` shows the one most of its actions carry and names the conflict.
SELECT contract_id,
       MAX(contract_ref) AS contract_ref,
       COUNT(*) AS actions,
       COALESCE(SUM(timetaken_ms), 0) AS time_taken_hours,
       COALESCE(SUM(nonbilltime_ms), 0) AS non_bill_hours,
       COALESCE(SUM(traveltime_ms), 0) AS travel_hours,
       COALESCE(SUM(mileage_e4), 0) AS mileage,
       COALESCE(SUM(actionchargehours_ms), 0) AS chargeable_hours,
       COALESCE(SUM(actionchargeamount_cents), 0) AS chargeable_amount,
       COALESCE(SUM(actionnonchargehours_ms), 0) AS non_chargeable_hours,
       COALESCE(SUM(actionnonchargeamount_cents), 0) AS non_chargeable_amount,
       COALESCE(SUM(actionprepayhours_ms), 0) AS prepay_hours,
       COALESCE(SUM(actionprepayamount_cents), 0) AS prepay_amount
FROM (
    SELECT NULLIF(action_contract_id, 0) AS contract_id,
           CASE WHEN NULLIF(action_contract_id, 0) IS NULL THEN NULL
                ELSE action_contract_ref END AS contract_ref,
           timetaken_ms, nonbilltime_ms, traveltime_ms, mileage_e4,
           actionchargehours_ms, actionchargeamount_cents,
           actionnonchargehours_ms, actionnonchargeamount_cents,
           actionprepayhours_ms, actionprepayamount_cents
    FROM actions
) AS a
GROUP BY contract_id
