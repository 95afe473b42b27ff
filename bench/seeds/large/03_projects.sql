-- 5,000 projects with ids 1..5000, each owned by a user of its team.
INSERT INTO projects (id, team_id, owner_id, name, created_at)
SELECT p,
       1 + (p * 7) % 200,
       p,  -- user p belongs to team 1 + (7 p) % 200 as well
       'Project ' || p || ' '
         || (ARRAY['Apollo', 'Borealis', 'Comet', 'Delta', 'Echo', 'Falcon', 'Gemini',
                   'Helios'])[1 + p % 8],
       timestamptz '2023-01-01 00:00:00+00' + make_interval(hours => (p * 37) % 8760)
FROM generate_series(1, 5000) AS p;
