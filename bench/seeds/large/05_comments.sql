-- 200,000 comments with ids 1..200000 on the tasks, 80 to 200 characters each.
INSERT INTO comments (id, task_id, author_id, body, created_at)
SELECT c,
       1 + (c::bigint * 7919) % 120000,
       1 + (c::bigint * 104729) % 50000,
       'Comment ' || c || ': '
         || (ARRAY['Looks good to me.', 'Needs another pass on the edge cases.',
                   'Blocked by the migration.', 'Can we split this into smaller steps?',
                   'Reproduced on staging.', 'Fixed in the latest build, please check.'])[1 + c % 6]
         || ' '
         || repeat((ARRAY['lorem ', 'ipsum ', 'dolor ', 'sit ', 'amet '])[1 + c % 5], 4 + c % 17),
       timestamptz '2023-06-01 00:00:00+00' + make_interval(mins => (c * 7919) % 786240)
FROM generate_series(1, 200000) AS c;
