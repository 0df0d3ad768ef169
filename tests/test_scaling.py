import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from gluonrec.data import MinMaxScaler


def test_known_answers():
    s = MinMaxScaler.from_scale((-10, 10))
    np.testing.assert_allclose(s.transform([-10, 0, 10, 5]), [-1, 0, 1, 0.5])
    s01 = MinMaxScaler.from_scale((1, 5), feature_range=(0, 1))
    np.testing.assert_allclose(s01.transform([1, 3, 5]), [0, 0.5, 1])
    assert s01.inverse_transform(0.25) == pytest.approx(2.0)
    assert s.ratio == pytest.approx(10.0)


def test_fit_from_train_ratings_and_state_round_trip():
    s = MinMaxScaler(feature_range=(0, 1)).fit(np.array([2.0, 4.0, 3.0]))
    assert (s.low, s.high) == (2.0, 4.0)
    assert MinMaxScaler.from_dict(s.to_dict()).to_dict() == s.to_dict()


def test_bad_use():
    with pytest.raises(ValueError, match='not fitted'):
        MinMaxScaler().transform([1.0])
    with pytest.raises(ValueError, match='low < high'):
        MinMaxScaler(5, 1)
    with pytest.raises(ValueError, match='two distinct'):
        MinMaxScaler().fit([3.0, 3.0])


@settings(max_examples=200, deadline=None)
@given(low=st.floats(-1e3, 1e3), width=st.floats(1e-2, 1e3),
       lo=st.floats(-5, 5), span=st.floats(0.1, 10),
       values=st.lists(st.floats(0, 1), min_size=1, max_size=50))
def test_round_trip_is_exact(low, width, lo, span, values):
    s = MinMaxScaler(low, low + width, feature_range=(lo, lo + span))
    ratings = low + np.asarray(values) * width
    back = s.inverse_transform(s.transform(ratings))
    np.testing.assert_allclose(back, ratings, rtol=1e-12, atol=1e-9 * (abs(low) + width))
    scaled = s.transform(ratings)
    assert scaled.min() >= lo - 1e-5 * span and scaled.max() <= lo + span + 1e-5 * span
