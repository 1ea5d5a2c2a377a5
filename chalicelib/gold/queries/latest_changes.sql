-- The biggest latest changes: each series' latest observation against the same period a year
-- earlier, largest percentage changes (either direction) first.
SELECT l.survey, l.series_id, c.title, l."year", l.period, l."value", l.year_ago_value, l.change, l.pct_change
FROM series_latest l
JOIN series_catalog c ON c.survey = l.survey AND c.series_id = l.series_id
WHERE l.pct_change IS NOT NULL
ORDER BY abs(l.pct_change) DESC, l.survey, l.series_id
LIMIT $limit
