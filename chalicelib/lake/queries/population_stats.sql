-- Report 1: mean, sample and population standard deviation of the U.S. population, $start_year-$end_year.
-- Two passes in double precision (the mean, then the squared deviations), as pandas computes them.
WITH selected AS (
    SELECT CAST(population AS DOUBLE) AS population
    FROM population
    WHERE "year" BETWEEN $start_year AND $end_year
),
mean AS (
    SELECT SUM(population) / COUNT(*) AS mean, COUNT(*) AS n FROM selected
)
SELECT
    $start_year AS start_year,
    $end_year AS end_year,
    m.n AS years,
    m.mean AS mean,
    CASE WHEN m.n > 1 THEN SQRT(SUM((s.population - m.mean) * (s.population - m.mean)) / (m.n - 1)) END AS std,
    SQRT(SUM((s.population - m.mean) * (s.population - m.mean)) / m.n) AS std_population
FROM selected s CROSS JOIN mean m
GROUP BY m.mean, m.n
