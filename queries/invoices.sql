-- invoices: the period's totals per invoice, the SQL twin of `report invoices` (which
-- runs on the rayon path; tests/report_files.rs holds the two equal). Work not yet
-- invoiced (no actioninvoicenumber) forms the row with an empty invoice_number.
-- Figures stay integers; reports/invoices.toml says how each column is shown. Runs
-- unchanged on halo-billing (polars SQL) and on DuckDB (benches/engines.sh).
-- Where an invoice number carries several invoice ids, this shows the greatest; `report
-- invoices` shows the one most of its actions carry and names the conflict.
SELECT invoice_number,
       MAX(invoice_id) AS invoice_id,
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
    SELECT actioninvoicenumber AS invoice_number,
           CASE WHEN actioninvoicenumber IS NULL THEN NULL
                ELSE NULLIF(invoice_id, 0) END AS invoice_id,
           timetaken_ms, nonbilltime_ms, traveltime_ms, mileage_e4,
           actionchargehours_ms, actionchargeamount_cents,
           actionnonchargehours_ms, actionnonchargeamount_cents,
           actionprepayhours_ms, actionprepayamount_cents
    FROM actions
) AS a
GROUP BY invoice_number
