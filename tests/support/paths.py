"""Where things are in the checkout, for tests that read files beside them (fixtures,
corpus, docs, templates): named from one place, so a test file can move between
tests/unit, tests/integration and tests/e2e."""

from pathlib import Path

TESTS = Path(__file__).absolute().parent.parent
REPO = TESTS.parent
