"""Default training settings per data set family, tuned on validation slices."""

__all__ = ['PRESETS', 'preset']

# Tuned on a validation slice carved out of the training part of a seeded 80/20 split
# (never on the test part); see scripts/benchmarks/tune.py and the README.
PRESETS = {
    'jester': {'model': 'biased_mf', 'num_factors': 16, 'optimizer': 'adagrad',
               'lr': 0.1, 'reg': 0.02, 'wd': 0.0, 'batch_size': 1024, 'epochs': 20,
               'patience': 3, 'sparse_grad': True},
    'movielens': {'model': 'biased_mf', 'num_factors': 16, 'optimizer': 'adagrad',
                  'lr': 0.1, 'reg': 0.05, 'wd': 0.0, 'batch_size': 1024, 'epochs': 30,
                  'patience': 3, 'sparse_grad': True},
}


def preset(family):
    """A copy of the settings for 'jester' or 'movielens'."""
    try:
        return dict(PRESETS[family])
    except KeyError:
        raise ValueError(f'no preset {family!r}; choose from {sorted(PRESETS)}') from None
