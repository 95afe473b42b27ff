"""The benchmark harness of pytest-dbsnap; run it with ``python bench/run.py``."""
