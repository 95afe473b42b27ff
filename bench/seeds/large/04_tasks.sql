-- 120,000 tasks with ids 1..120000 (24 per project).
INSERT INTO tasks (id, project_id, assignee_id, title, status, priority, due_on, created_at)
SELECT t,
       1 + (t - 1) / 24,
       CASE WHEN t % 11 = 0 THEN NULL ELSE 1 + (t::bigint * 7919) % 50000 END,
       (ARRAY['Fix', 'Write', 'Review', 'Refactor', 'Test', 'Deploy', 'Document'])[1 + t % 7]
         || ' '
         || (ARRAY['login page', 'billing export', 'search index', 'audit log',
                   'mobile layout', 'rate limiter', 'nightly report', 'cache layer'])[1 + (t * 3) % 8]
         || ' #' || t,
       (ARRAY['open', 'doing', 'review', 'done'])[1 + (t * 5) % 4],
       1 + (t * 3) % 5,
       CASE WHEN t % 7 = 0 THEN NULL ELSE date '2024-01-01' + (t * 13) % 730 END,
       timestamptz '2023-06-01 00:00:00+00' + make_interval(mins => ((t::bigint * 104729) % 525600)::int)
FROM generate_series(1, 120000) AS t;
