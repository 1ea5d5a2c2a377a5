-- Report 2: for every series of $survey/$file, the year with the largest sum of $periods
-- (exact DECIMAL sums); ties go to the earliest year.
WITH sums AS (
    SELECT series_id, "year", SUM(value) AS value
    FROM bls_data
    WHERE survey = '$survey' AND file = '$file' AND period IN ($periods)
    GROUP BY series_id, "year"
),
ranked AS (
    SELECT series_id, "year", value,
           ROW_NUMBER() OVER (PARTITION BY series_id ORDER BY value DESC, "year" ASC) AS rank
    FROM sums
)
SELECT series_id, "year", value
FROM ranked
WHERE rank = 1
ORDER BY series_id
