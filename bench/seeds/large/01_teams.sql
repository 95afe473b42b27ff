-- 200 teams with ids 1..200.
INSERT INTO teams (id, name, region)
SELECT t, 'team-' || lpad(t::text, 3, '0'), (ARRAY['emea', 'amer', 'apac'])[1 + t % 3]
FROM generate_series(1, 200) AS t;
