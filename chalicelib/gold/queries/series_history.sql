-- A series' history: every year's sub-annual sum and mean, the published annual value and
-- whether the year is complete, with the series' title (exact DECIMAL values).
-- Replace the series id in the WHERE clause (named query: 'CUUR0000SA0' as the example).
SELECT c.survey, a.series_id, c.title, a."year", a.periods, a.value_sum, a.value_mean, a.published_annual, a.complete
FROM series_annual a
JOIN series_catalog c ON c.survey = a.survey AND c.series_id = a.series_id
WHERE a.series_id = '$series_id'
ORDER BY a."year"
