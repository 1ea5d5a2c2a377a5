-- bls_data as published at ${as_of} (UTC): the rule of docs/lake.md "As of a date".
-- An observation's value at T is the previous value of its first revision with a vintage after T
-- (none if that revision added it); without such a revision it is the value in bls_data now.
WITH later AS (
    SELECT survey, file, series_id, year, period, previous_value, previous_footnote_codes, change,
           row_number() OVER (PARTITION BY survey, file, series_id, year, period
                              ORDER BY vintage, recorded_at) AS n
    FROM ${revisions}
    WHERE vintage > TIMESTAMP '${as_of}'
)
SELECT d.series_id, d.year, d.period, d.value, d.footnote_codes, d.survey, d.file
FROM ${data} d
WHERE NOT EXISTS (
    SELECT 1 FROM later l
    WHERE l.survey = d.survey AND l.file = d.file AND l.series_id = d.series_id
      AND l.year = d.year AND l.period = d.period)
UNION ALL
SELECT series_id, year, period, previous_value AS value, previous_footnote_codes AS footnote_codes, survey, file
FROM later
WHERE n = 1 AND change <> 'added'
