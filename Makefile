# Two commands from a fresh clone (Debian-like, root or with a running Docker engine):
#   make example   the shop example at -n 2 (run it twice: the second says "cache hit")
#   make test      this project's whole test suite (README's test command)
#   make lint      ruff and mypy
# Each sets up what it needs first (scripts/setup): a virtualenv in .venv, a
# Docker engine when none answers, the offline base images when the official
# ones cannot be pulled.

.PHONY: example test lint

example:
	@scripts/setup venv xdist,binary
	@scripts/setup engine
	@image="$${DBSNAP_IMAGE:-$$(scripts/setup postgres)}" && cd examples/shop && \
		DBSNAP_IMAGE="$$image" ../../.venv/bin/python -m pytest -n 2

test:
	@scripts/setup venv dev
	@scripts/setup engine
	@scripts/setup images
	@if [ "$$(id -u)" = 0 ]; then scripts/setup registry && export DBSNAP_TEST_REGISTRY=127.0.0.1:5000; fi; \
		.venv/bin/python -m pytest -ra

lint:
	@scripts/setup venv dev
	.venv/bin/ruff check pytest_dbsnap tests examples bench
	.venv/bin/ruff format --check pytest_dbsnap tests examples bench
	.venv/bin/mypy
	.venv/bin/mypy --strict examples/shop/shop
