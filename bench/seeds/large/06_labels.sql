-- 40 labels and one label per task (120,000 rows).
INSERT INTO labels (id, name)
SELECT l, 'label-' || l FROM generate_series(1, 40) AS l;

INSERT INTO task_labels (task_id, label_id)
SELECT t, 1 + (t * 7) % 40 FROM generate_series(1, 120000) AS t;
