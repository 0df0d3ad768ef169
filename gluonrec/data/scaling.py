"""Min-max scaling of ratings onto a feature range and back."""
import numpy as np

__all__ = ['MinMaxScaler']


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
