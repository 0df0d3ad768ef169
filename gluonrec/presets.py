"""Default training settings per data set family and model, tuned on validation slices.

Tuned with ``scripts/benchmarks/tune.py``: a seeded 80/20 train/test split, 10% of train
carved out for validation, ranked by validation RMSE; the test part is never used.
``epochs`` is about the best validation epoch (training on the full train part with a
fixed count); the scripts treat it as a cap and stop early on their own validation split.
"""

__all__ = ['PRESETS', 'DEFAULT_MODEL', 'TRAINING_KEYS', 'preset', 'resolve']

_COMMON = {'num_factors': 16, 'wd': 0.0, 'sparse_grad': True}

#: The settings a preset holds, besides the model name.
TRAINING_KEYS = ('num_factors', 'epochs', 'batch_size', 'optimizer', 'lr', 'wd', 'reg',
                 'patience', 'sparse_grad')

PRESETS = {
    'jester': {
        'biased_mf': dict(_COMMON, optimizer='adagrad', lr=0.1, reg=0.03, batch_size=1024,
                          epochs=11, patience=3),
        'mf': dict(_COMMON, optimizer='adagrad', lr=0.1, reg=0.03, batch_size=1024,
                   epochs=14, patience=3),
        'nnmf': dict(_COMMON, optimizer='adagrad', lr=0.1, reg=0.01, batch_size=1024,
                     epochs=20, patience=3),
        'mlp': dict(_COMMON, optimizer='adam', lr=0.003, reg=0.0, batch_size=1024,
                    epochs=12, patience=3),
    },
    'movielens': {
        'biased_mf': dict(_COMMON, num_factors=128, optimizer='adagrad', lr=0.1, reg=0.05,
                          batch_size=1024, epochs=7, patience=3),
        'mf': dict(_COMMON, optimizer='adagrad', lr=0.1, reg=0.05, batch_size=1024,
                   epochs=13, patience=3),
        'nnmf': dict(_COMMON, optimizer='adagrad', lr=0.1, reg=0.03, batch_size=1024,
                     epochs=18, patience=3),
        'mlp': dict(_COMMON, optimizer='adam', lr=0.01, reg=0.001, batch_size=1024,
                    epochs=6, patience=3),
    },
}

#: The most accurate model per family (validation RMSE), used when none is named.
DEFAULT_MODEL = {'jester': 'biased_mf', 'movielens': 'biased_mf'}


def preset(family, model=None):
    """A copy of the settings for ``model`` (default: the family's best) on 'jester' or
    'movielens', with the model name under 'model'."""
    if family not in PRESETS:
        raise ValueError(f'no preset {family!r}; choose from {sorted(PRESETS)}')
    model = model or DEFAULT_MODEL[family]
    if model not in PRESETS[family]:
        raise ValueError(f'no {family} preset for model {model!r}; '
                         f'choose from {sorted(PRESETS[family])}')
    return dict(PRESETS[family][model], model=model)


def resolve(family, model=None, **given):
    """The settings to train with: every value in ``given`` that is not None, the
    ``family`` preset of ``model`` for the rest.

    ``epochs`` left unset is the preset's count (about the best epoch when training
    for a fixed number of epochs), doubled as a cap when early stopping is on
    (``patience`` > 0), since early stopping then ends the run.

    Returns
    -------
    dict
        'model' and every key of ``TRAINING_KEYS``.
    """
    unknown = sorted(set(given) - set(TRAINING_KEYS))
    if unknown:
        raise ValueError(f'not a preset setting: {unknown[0]!r}; known: {TRAINING_KEYS}')
    settings = preset(family, model)
    settings.update({k: v for k, v in given.items() if v is not None})
    if given.get('epochs') is None and settings['patience']:
        settings['epochs'] *= 2
    return settings
