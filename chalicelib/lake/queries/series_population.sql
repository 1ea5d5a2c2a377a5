-- Report 3: every year's value of series $series_id, period $period ($survey/$file),
-- with that year's population (NULL where the population data has no such year).
SELECT d.series_id, d."year", d.period, d.value, p.population
FROM bls_data d
LEFT JOIN population p ON p."year" = d."year"
WHERE d.survey = '$survey' AND d.file = '$file' AND d.series_id = '$series_id' AND d.period = '$period'
ORDER BY d."year"
