"""Scaling ratings onto the range a model trains on and back: the scaler contract, and
min-max scaling, the one gluonrec uses by default.

The scaler contract, what a scaler must provide to train, save and load:

- ``transform(ratings)`` and ``inverse_transform(scaled)``: numpy arrays (or scalars)
  in, float64 out; the iterators scale labels with the first, every metric and
  prediction is mapped back with the second, so RMSE is on the original scale.
- ``to_dict()``: its state as JSON values (``save_model`` writes it to scaler.json,
  with the ``kind`` it is registered as), and a classmethod ``from_dict(state)``
  that rebuilds it (``load_model``).
- optionally ``low`` and ``high``: the rating range predictions are clipped to when a
  network is evaluated (``MinMaxScaler`` has them; without them, no clipping there).

``register_scaler('name', cls)`` makes a scaler class loadable; ``check_scaler`` names
what a scaler lacks, and ``fit`` and ``train_model`` call it before training.
"""
import numpy as np

__all__ = ['MinMaxScaler', 'IdentityScaler', 'register_scaler', 'check_scaler', 'scaler_from_dict',
           'scaler_to_dict', 'SCALER_METHODS']

#: What every scaler provides (see the module docstring).
SCALER_METHODS = ('transform', 'inverse_transform', 'to_dict', 'from_dict')


class MinMaxScaler:
    """Map ratings in ``[low, high]`` linearly onto ``feature_range`` and back.

    Fitted from the declared rating scale (``MinMaxScaler.from_scale``) or from the
    training ratings (``fit``), never from test ratings.

    Parameters
    ----------
    low, high : float
        The rating range that maps to ``feature_range``.
    feature_range : (float, float)
        Target range; (-1, 1) as in the original Jester blog, (0, 1) for
        non-negative models.
    """

    def __init__(self, low=None, high=None, feature_range=(-1.0, 1.0)):
        self.feature_range = (float(feature_range[0]), float(feature_range[1]))
        if not self.feature_range[0] < self.feature_range[1]:
            raise ValueError(f'feature_range must be increasing, got {feature_range}')
        self.low = None if low is None else float(low)
        self.high = None if high is None else float(high)
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError(f'need low < high, got low={low}, high={high}')

    @classmethod
    def from_scale(cls, scale, feature_range=(-1.0, 1.0)):
        """A scaler for the declared rating scale ``(low, high)``."""
        return cls(scale[0], scale[1], feature_range)

    def fit(self, ratings):
        """Take ``low`` and ``high`` from the (training) ratings."""
        values = np.asarray(ratings, dtype=np.float64)
        if values.size == 0 or not np.isfinite(values).all():
            raise ValueError('fit needs a non-empty array of finite ratings')
        if values.min() == values.max():
            raise ValueError('fit needs at least two distinct ratings')
        self.low, self.high = float(values.min()), float(values.max())
        return self

    def _check(self):
        if self.low is None or self.high is None:
            raise ValueError('MinMaxScaler is not fitted: call fit() or use from_scale()')

    @property
    def ratio(self):
        """Original units per scaled unit."""
        self._check()
        return (self.high - self.low) / (self.feature_range[1] - self.feature_range[0])

    def transform(self, ratings):
        """Ratings -> feature range (float64; the iterator stores float32)."""
        self._check()
        values = np.asarray(ratings, dtype=np.float64)
        out = (values - self.low) / self.ratio + self.feature_range[0]
        return out if out.ndim else float(out)

    def inverse_transform(self, scaled):
        """Feature range -> ratings (float64)."""
        self._check()
        values = np.asarray(scaled, dtype=np.float64)
        out = (values - self.feature_range[0]) * self.ratio + self.low
        return out if out.ndim else float(out)

    def to_dict(self):
        self._check()
        return {'low': self.low, 'high': self.high, 'feature_range': list(self.feature_range)}

    @classmethod
    def from_dict(cls, state):
        return cls(state['low'], state['high'], tuple(state['feature_range']))

    def __repr__(self):
        return (f'MinMaxScaler(low={self.low}, high={self.high}, '
                f'feature_range={self.feature_range})')


class IdentityScaler:
    """No scaling: what ranking models train with (their targets are positives, their
    outputs scores, not ratings); no ``low``/``high``, so nothing is clipped."""

    def transform(self, ratings):
        return np.asarray(ratings, dtype=np.float64)

    def inverse_transform(self, scaled):
        return np.asarray(scaled, dtype=np.float64)

    def to_dict(self):
        return {}

    @classmethod
    def from_dict(cls, state):
        return cls()

    def __repr__(self):
        return 'IdentityScaler()'


_SCALERS = {'minmax': MinMaxScaler, 'identity': IdentityScaler}


def _lacking(scaler):
    """The methods of the scaler contract that ``scaler`` (a class or an instance) lacks."""
    return [m for m in SCALER_METHODS if not callable(getattr(scaler, m, None))]


def register_scaler(name, cls=None):
    """Register scaler class ``cls`` under ``name`` (as a decorator without ``cls``),
    so that ``load_model`` can rebuild it from scaler.json."""
    if cls is None:
        return lambda cls: register_scaler(name, cls)
    missing = _lacking(cls)
    if missing:
        raise ValueError(f'{cls!r} lacks {", ".join(missing)} (a scaler provides '
                         f'{", ".join(SCALER_METHODS)})')
    if name in _SCALERS and _SCALERS[name] is not cls:
        raise ValueError(f'scaler name {name!r} is taken by {_SCALERS[name].__name__}')
    _SCALERS[name] = cls
    return cls


def check_scaler(scaler):
    """Raise ``ValueError`` naming what ``scaler`` lacks of the scaler contract."""
    missing = _lacking(scaler)
    if missing:
        raise ValueError(f'scaler {type(scaler).__name__} lacks {", ".join(missing)}: a '
                         f'scaler provides {", ".join(SCALER_METHODS)} (see '
                         'gluonrec.data.scaling)')


def scaler_to_dict(scaler):
    """``scaler.to_dict()`` with the name its class is registered as, under 'kind'."""
    kinds = [name for name, cls in _SCALERS.items() if cls is type(scaler)]
    if not kinds:
        raise ValueError(f'scaler {type(scaler).__name__} is not registered, so a saved '
                         'model could not rebuild it: gluonrec.data.register_scaler(name, '
                         'cls)')
    return dict(scaler.to_dict(), kind=kinds[0])


def scaler_from_dict(state):
    """The scaler ``scaler_to_dict`` saved (a state without 'kind' is min-max's)."""
    state = dict(state)
    kind = state.pop('kind', 'minmax')
    if kind not in _SCALERS:
        raise ValueError(f'scaler kind {kind!r} is not registered in this process; import '
                         'the module that registers it first')
    return _SCALERS[kind].from_dict(state)
