"""Small real data for the rec tests: a seeded 80-user sample of Beauty."""

import pytest

from lmrepro.rec.data import read_sequences_txt, subset_users


@pytest.fixture(scope="session")
def beauty_small(shared_data):
    return subset_users(read_sequences_txt(shared_data / "rec" / "Beauty.txt"), 80, 0)
