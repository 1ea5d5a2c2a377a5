-- bls_data as published at ${as_of} (UTC): the rule of docs/lake.md "As of a date".
-- An observation's value at T is the previous value of its first published revision with a vintage
-- after T (none if that revision added it); without such a revision it is the value in bls_data now.
-- `vintage` is that of the file's version current at T.
WITH published AS (
${published}
), later AS (
    SELECT survey, file, series_id, year, period, previous_value, previous_footnote_codes, change,
           row_number() OVER (PARTITION BY survey, file, series_id, year, period
                              ORDER BY vintage, recorded_at) AS n
    FROM published
    WHERE vintage > TIMESTAMP '${as_of}'
), version_then AS (
    SELECT survey, file, previous_vintage AS vintage
    FROM (SELECT survey, file, previous_vintage,
                 row_number() OVER (PARTITION BY survey, file ORDER BY vintage, recorded_at) AS n
          FROM published
          WHERE vintage > TIMESTAMP '${as_of}') first_release
    WHERE n = 1
), rows_then AS (
    SELECT d.series_id, d.year, d.period, d.value, d.footnote_codes, d.vintage, d.survey, d.file
    FROM ${data} d
    WHERE NOT EXISTS (
        SELECT 1 FROM later l
        WHERE l.survey = d.survey AND l.file = d.file AND l.series_id = d.series_id
          AND l.year = d.year AND l.period = d.period)
    UNION ALL
    SELECT series_id, year, period, previous_value, previous_footnote_codes, CAST(NULL AS TIMESTAMP), survey, file
    FROM later
    WHERE n = 1 AND change <> 'added'
)
SELECT t.series_id, t.year, t.period, t.value, t.footnote_codes, coalesce(v.vintage, t.vintage) AS vintage,
       t.survey, t.file
FROM rows_then t
LEFT JOIN version_then v ON v.survey = t.survey AND v.file = t.file
