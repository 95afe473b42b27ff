# Two commands from a fresh clone (Debian-like, root or with a running Docker engine):
#   make example   the shop example at -n 2 (run it twice: the second says "cache hit")
#   make test      this project's whole test suite (README's test command)
#   make lint      ruff and mypy
#   make test-podman  a subset of the suite on rootful Podman
# Each sets up what it needs first (scripts/setup): a virtualenv in .venv, a
# Docker engine when none answers, the offline base images when the official
# ones cannot be pulled.

.PHONY: example test test-podman lint

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

# What depends on the daemon, on rootful Podman's Docker-compatible service
# (scripts/setup podman), base images moved in: the core (a build, a cache
# hit, one build for concurrent sessions), per-test databases and containers,
# a full RAM folder, the crash tests (bound containers, reaping) and the CLI.
# The rest of the suite exercises the engine and the plugin the same way on
# any daemon, and runs on Docker only (make test).
PODMAN_TESTS = tests/docker/test_crashes.py tests/docker/test_podman.py \
	"tests/docker/test_snapshot.py::test_first_run_builds_and_second_run_seeds_nothing" \
	"tests/docker/test_snapshot.py::test_xdist_builds_once_and_starts_one_container_per_worker" \
	"tests/docker/test_snapshot.py::test_two_concurrent_sessions_from_different_checkouts_build_once" \
	tests/docker/test_pristine.py::test_every_test_starts_pristine_in_random_order \
	tests/docker/test_pristine.py::test_container_mode_gives_each_test_its_own_container \
	tests/docker/test_pristine.py::test_a_full_ram_folder_says_what_to_raise \
	tests/docker/test_pristine.py::test_the_session_removes_the_container_of_a_worker_that_died \
	"tests/docker/test_cli.py::test_build_then_pytest_seeds_nothing_and_ls_marks_the_current_snapshot" \
	"tests/docker/test_cli.py::test_prune_keeps_the_current_snapshot_and_removes_what_dead_sessions_left" \
	"tests/docker/test_cli.py::test_exit_statuses_and_one_line_errors" \
	"tests/docker/test_cli.py::test_doctor_on_a_healthy_daemon_says_ok_line_by_line"

test-podman:
	@scripts/setup venv dev
	@scripts/setup engine
	@scripts/setup images
	@host="$$(scripts/setup podman)" && DOCKER_HOST="$$host" \
		CONTAINERS_CONF=/etc/dbsnap-podman/containers.conf .venv/bin/python -m pytest -ra $(PODMAN_TESTS)

lint:
	@scripts/setup venv dev
	.venv/bin/ruff check pytest_dbsnap tests examples bench
	.venv/bin/ruff format --check pytest_dbsnap tests examples bench
	.venv/bin/mypy
	.venv/bin/mypy --strict examples/shop/shop
