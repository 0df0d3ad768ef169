"""Generated data sets for demos, tests and speed runs: Jester-like ratings with planted
low-rank structure (no files, no download)."""
from ..synthetic import make_jester_scale, make_synthetic
from .base import DataSet, register_dataset

__all__ = ['SYNTHETIC', 'SYNTHETIC_LARGE']


def _synthetic(seed=0, num_ratings=None):
    ratings = make_synthetic(num_users=2000, num_items=150, num_ratings=num_ratings or 60000,
                             seed=seed, name='synthetic-jester')
    ratings.item_names = {i: f'(synthetic joke {i})' for i in range(1, 151)}
    return ratings


SYNTHETIC = register_dataset(DataSet(
    name='synthetic', family='jester', generate=_synthetic, scale=(-10.0, 10.0),
    description='Jester-like: 60,000 ratings of 150 jokes by 2,000 users (the offline demo)'))
SYNTHETIC_LARGE = register_dataset(DataSet(
    name='synthetic-large', family='jester', scale=(-10.0, 10.0),
    generate=lambda seed=0, num_ratings=None: make_jester_scale(num_ratings or 1_700_000,
                                                                seed=seed),
    description="Jester's size: 1.7M ratings of 150 jokes by 59,132 users (speed runs)"))
