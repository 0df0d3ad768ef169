"""Default training settings per data set family and model, and how they were chosen.

The test part of the seeded 80/20 split of ``scripts/benchmarks/compare.py`` is never
used to choose (AutoRec's exploration, below, read it and says how far). ``epochs`` is
about the best epoch of a fixed-length run on the whole 80%; with validation data to
stop on (``train_model`` with a validation split, the scripts) it is doubled as a cap
and early stopping ends the run.

- mf, biased_mf, nnmf, mlp (generic engine) and the fused presets: first chosen on a
  validation slice (10% of the 80%) of ml-100k and of the Jester 5k sample. Then
  searched again with ``scripts/benchmarks/tune.py`` (scikit-learn's ``GridSearchCV``,
  5-fold ``UserKFold`` on the 80%, every data set of the family here: Jester 5k and the
  dataset-2 sample; ml-100k, the only MovieLens data here), keeping the setting with the
  lowest worst-case ratio to each data set's best (records in RESULTS.md, sections
  ``tune:*``). For MovieLens the search kept the presets (biased_mf, mf, nnmf). For
  Jester the worst-case choice (k=32, lr 0.03, reg 0.03 for biased_mf and mf) costs 1.2%
  test RMSE on the 5k sample (4.0268 against 3.9774) for 0.2% on the dataset-2 sample (4.6015
  against 4.6091), whose 38k ratings are a tenth of the 5k sample's; for nnmf (lr 0.03
  instead of 0.05) 0.2% for 0.3%; the presets stay.
- svdpp: 5-fold ``UserKFold`` on ml-100k (tune.py; k 16/32, reg 0.05/0.08, lr 0.1, 4
  epochs, batch 2048): k=16, reg 0.08 kept; then 3-fold over batches of 2048/4096 and
  lr 0.1/0.2: 4096 at lr 0.1 (CV 0.9224 against 0.9246; half the steps, so faster).
  Jester: 3-fold on both Jester data sets, reg 0.03/0.08, k=16, 4 epochs: reg 0.03 kept
  (worst-case ratio 1.0124); batches of 4096 lost there (worst ratio 1.0144), 2048
  stays.
- autorec (batches of whole rows, ``batch_size`` rows; hidden 500 as in the paper):
  the trained-on-rows model was explored on ml-100k's 80/20 split (per-rating reg
  0.001-0.1, Adam lr 0.001-0.003, 16-256 rows a batch, dropout on the codes 0-0.7).
  Those runs read the test part, so they only set the direction (without dropout no
  setting beat 0.949; dropout is what regularises it); the presets were then chosen by
  3-fold ``UserKFold`` on the 80% (tune.py, records in RESULTS.md): MovieLens
  I-AutoRec, dropout 0.5/0.7 at lr 0.003, reg 0.001, 90 epochs: 0.7 kept. Jester
  U-AutoRec, since an item autoencoder has only 100 rows to learn from there (4.44
  against 4.26 test RMSE in the exploration), dropout 0.5/0.7 at 40 epochs on both
  Jester data sets: 0.7 best on both (CV 4.3508 and 4.9816; test 4.2484 on the 5k
  sample).
- mlp: 3-fold ``UserKFold`` (tune.py) over lr 0.003/0.01, reg 0/0.001, k 16/32 on each
  family. Jester: lr 0.003, k=16, reg 0.001 best on both data sets (reg 0 before).
  MovieLens: lr 0.01, k=16 as before; reg 0 and 0.001 within 0.04% of each other
  (0.9486 and 0.9490, less than the folds differ), so the preset's 0.001 stays.
"""

import logging

__all__ = ['PRESETS', 'FUSED_PRESETS', 'DEFAULT_MODEL', 'TRAINING_KEYS', 'PACKAGE_DEFAULTS',
           'preset', 'resolve']

logger = logging.getLogger(__name__)

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
        'mlp': dict(_COMMON, optimizer='adam', lr=0.003, reg=0.001, batch_size=1024,
                    epochs=12, patience=3),
        'svdpp': dict(_COMMON, optimizer='adagrad', lr=0.1, reg=0.03, batch_size=2048,
                      epochs=4, patience=3),
        'autorec': dict(_COMMON, num_factors=500, optimizer='adam', lr=0.003, reg=0.001,
                        batch_size=64, epochs=40, patience=5,
                        model_kwargs={'user_based': True, 'dropout': 0.7}),
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
        'svdpp': dict(_COMMON, optimizer='adagrad', lr=0.1, reg=0.08, batch_size=4096,
                      epochs=4, patience=3),
        'autorec': dict(_COMMON, num_factors=500, optimizer='adam', lr=0.003, reg=0.001,
                        batch_size=64, epochs=90, patience=5, model_kwargs={'dropout': 0.7}),
    },
}

#: What differs for the fused engine (one update per rating, so other step sizes),
#: tuned the same way: ``tune.py --engine fused --batch-size 65536 --lr 0.03 0.05 0.1
#: --reg 0.02 0.03 0.04 --num-factors 32 64`` on Jester (lr 0.02-0.1, reg 0.03-0.08,
#: k 64/128 on ml-100k), with the default thread count of a 2-core machine (1 thread: the
#: schedule, and so the result, depends on it); best validation RMSE, ``epochs`` about
#: its best epoch (records in scripts/benchmarks/RESULTS.md). Per-rating Adagrad prefers
#: wider factors than the batch path (k=16 costs 0.1-0.3% RMSE on these slices).
#: ``batch_size`` is the chunk of ratings one operator call trains on: it changes the
#: speed, barely the updates (the chunk's rows are regrouped per thread, see
#: ``train/fused_mf.cc``).
_FUSED = {'optimizer': 'adagrad', 'batch_size': 65536}
FUSED_PRESETS = {
    'jester': {
        'biased_mf': dict(_FUSED, num_factors=64, lr=0.05, reg=0.03, epochs=8),
        'mf': dict(_FUSED, num_factors=64, lr=0.05, reg=0.03, epochs=11),
        'nnmf': dict(_FUSED, num_factors=64, lr=0.05, reg=0.02, epochs=43),
    },
    'movielens': {
        'biased_mf': dict(_FUSED, num_factors=128, lr=0.05, reg=0.05, epochs=18),
        'mf': dict(_FUSED, num_factors=128, lr=0.05, reg=0.05, epochs=18),
        'nnmf': dict(_FUSED, num_factors=128, lr=0.05, reg=0.03, epochs=18),
    },
}

#: What a model without a preset trains with where neither the caller nor the model's
#: ``training_defaults`` give a setting: Adam, whose step sizes suit most models.
PACKAGE_DEFAULTS = dict(num_factors=16, epochs=20, batch_size=1024, optimizer='adam',
                        lr=0.003, wd=0.0, reg=0.001, patience=3, sparse_grad=True)

#: The most accurate model per family (validation RMSE), used when none is named.
DEFAULT_MODEL = {'jester': 'biased_mf', 'movielens': 'biased_mf'}


def preset(family, model=None, engine='generic'):
    """A copy of the settings for ``model`` (default: the family's best) on 'jester' or
    'movielens' for ``engine`` ('generic' or 'fused'), with the model name under
    'model' and the constructor arguments the preset chose under 'model_kwargs' (empty
    for most models)."""
    if family not in PRESETS:
        raise ValueError(f'no preset {family!r}; choose from {sorted(PRESETS)}')
    model = model or DEFAULT_MODEL[family]
    if model not in PRESETS[family]:
        raise ValueError(f'no {family} preset for model {model!r}; '
                         f'choose from {sorted(PRESETS[family])}')
    settings = dict(PRESETS[family][model], model=model)
    settings['model_kwargs'] = dict(settings.get('model_kwargs', {}))
    if engine == 'fused':
        if model not in FUSED_PRESETS[family]:
            raise ValueError(f'the fused engine has no {family} preset for {model!r}')
        settings.update(FUSED_PRESETS[family][model])
    return settings


def resolve(family, model=None, engine='generic', early_stopping=True, model_defaults=None,
            **given):
    """The settings to train with, each from the first of: the caller (every value in
    ``given`` that is not None), the ``family`` preset of ``model`` (built-in models
    have one), the model's own ``model_defaults`` (``RecModel.training_defaults``),
    ``PACKAGE_DEFAULTS``. A model without a preset is trained with one log line naming
    the settings that came from its defaults or the package's.

    ``epochs`` left unset is the preset's count (about the best epoch when training
    for a fixed number of epochs), doubled as a cap when early stopping is on
    (``patience`` > 0 and ``early_stopping``, i.e. there is validation data to stop
    on), since early stopping then ends the run. Defaults are taken as they are.

    Returns
    -------
    dict
        'model', 'model_kwargs' (see ``preset``) and every key of ``TRAINING_KEYS``.
    """
    unknown = sorted(set(given) - set(TRAINING_KEYS))
    if unknown:
        raise ValueError(f'not a preset setting: {unknown[0]!r}; known: {TRAINING_KEYS}')
    defaults = dict(model_defaults or {})
    unknown = sorted(set(defaults) - set(TRAINING_KEYS))
    if unknown:
        raise ValueError(f'training_defaults of {model!r}: {unknown[0]!r} is not a training '
                         f'setting; known: {TRAINING_KEYS}')
    if family not in PRESETS:
        raise ValueError(f'no preset {family!r}; choose from {sorted(PRESETS)}')
    model = model or DEFAULT_MODEL[family]
    if model in PRESETS[family]:
        settings = preset(family, model, engine)
        doubles = True
    else:
        settings = dict(PACKAGE_DEFAULTS, **defaults, model=model, model_kwargs={})
        doubles = False
        taken = [key for key in TRAINING_KEYS if given.get(key) is None]
        if taken:
            logger.info('%s has no %s preset; training with %s (from %s)', model, family,
                        ', '.join(f'{key}={settings[key]!r}' for key in taken),
                        "its training_defaults and gluonrec's" if defaults else
                        "gluonrec's package defaults")
    settings.update({k: v for k, v in given.items() if v is not None})
    if doubles and given.get('epochs') is None and settings['patience'] and early_stopping:
        settings['epochs'] *= 2
    return settings
