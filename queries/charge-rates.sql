-- charge-rates: chargeable work per contract and charge rate (Halo's `chargerate`), split
-- into what is invoiced and what is not: the lines an invoice carries per charge type.
-- Parameter `contract` (params table, one row): only that contract's work when set.
-- Figures stay integers; reports/charge-rates.toml says how each column is shown.
-- `params` comes first in the cross join: polars holds the first table in memory and
-- streams the second (the other way round it would hold the period's actions). Runs
-- unchanged on halo-billing (polars SQL) and on DuckDB (benches/engines.sh).
SELECT contract_id,
       MAX(contract_ref) AS contract_ref,
       charge_rate,
       COUNT(*) AS actions,
       COALESCE(SUM(actionchargehours_ms), 0) AS chargeable_hours,
       COALESCE(SUM(actionchargeamount_cents), 0) AS chargeable_amount,
       COALESCE(SUM(invoiced_cents), 0) AS invoiced_amount,
       COALESCE(SUM(actionchargeamount_cents - invoiced_cents), 0) AS unbilled_amount
FROM (
    SELECT NULLIF(a.action_contract_id, 0) AS contract_id,
           CASE WHEN NULLIF(a.action_contract_id, 0) IS NULL THEN NULL
                ELSE a.action_contract_ref END AS contract_ref,
           a.chargerate AS charge_rate,
           a.actionchargehours_ms,
           a.actionchargeamount_cents,
           CASE WHEN a.actioninvoicenumber IS NOT NULL OR a.invoice_id > 0
                THEN a.actionchargeamount_cents ELSE 0 END AS invoiced_cents
    FROM params AS p CROSS JOIN actions AS a
    WHERE (a.actionchargehours_ms > 0 OR a.actionchargeamount_cents > 0)
      AND (p.contract IS NULL OR a.action_contract_id = p.contract)
) AS c
GROUP BY contract_id, charge_rate
