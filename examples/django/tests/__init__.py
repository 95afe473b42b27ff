import pytest

# The shared checks of the seeded state are asserts too: show their values.
pytest.register_assert_rewrite("tests.seed")
