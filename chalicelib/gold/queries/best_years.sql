-- The best years of a survey's series: the year with the largest sum of the sub-annual values
-- (ties: the earliest year), or the largest annual value for series with annual values only.
SELECT b.series_id, c.title, c.periodicity, b."year", b."value", b.basis
FROM series_best_year b
JOIN series_catalog c ON c.survey = b.survey AND c.series_id = b.series_id
WHERE b.survey = '$survey'
ORDER BY b.series_id
