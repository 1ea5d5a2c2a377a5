-- bls_revisions as published (docs/lake.md "Publication"): the rows of the revisions objects whose
-- bls_data partition is written. An object counts when its vintage is no later than the vintage of
-- the file's partition (a partition without one predates the rule: no bound) and it is the latest of
-- the objects diffed against the same previous version. A file without a partition has none.
SELECT series_id, year, period, previous_value, value, change, footnote_codes, previous_footnote_codes,
       vintage, previous_vintage, recorded_at, survey, file, release
FROM (
    SELECT r.*, max(r.vintage) OVER (PARTITION BY r.survey, r.file, r.previous_vintage) AS latest
    FROM ${revisions} r
    JOIN (SELECT survey, file, max(vintage) AS vintage FROM ${data} GROUP BY survey, file) p
      ON p.survey = r.survey AND p.file = r.file
    WHERE p.vintage IS NULL OR r.vintage <= p.vintage
) candidates
WHERE vintage = latest
