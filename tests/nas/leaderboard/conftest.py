"""The leaderboard tests' tiny ground-truth table."""

import pytest

from tests.nas.leaderboard.helpers import make_oracle


@pytest.fixture
def oracle(tmp_path):
    return make_oracle(tmp_path)
