"""Blend: weighted averages of Recommenders trained on the same ratings."""
import numpy as np
import pytest

from gluonrec import Blend, recommend
from gluonrec.data import random_split


def test_blend_averages_its_members(trained):
    a, b = trained('biased_mf').recommender(), trained('mf').recommender()
    users = a.user_map.raw_ids[:30]
    items = a.item_map.raw_ids[np.arange(30) % len(a.item_map)]
    pa, pb = a.predict(users, items), b.predict(users, items)
    assert not np.allclose(pa, pb)
    np.testing.assert_allclose(Blend([a, b]).predict(users, items), (pa + pb) / 2)
    np.testing.assert_allclose(Blend([a, b], weights=[3, 1]).predict(users, items),
                               0.75 * pa + 0.25 * pb)
    inner = [0, 4]
    np.testing.assert_allclose(Blend([a, b], weights=[1, 0]).score_users(inner),
                               a.score_users(inner))
    # top-N over the blended scores, rated items left out as for any recommender
    blend = Blend([a, b])
    top = recommend(blend, users[0], n=5)
    scores = blend.score_users([a.user_map.to_inner(users[0])])[0]
    rated = set(a.train.item[a.train.user == a.user_map.to_inner(users[0])].tolist())
    want = [i for i in np.argsort(-scores, kind='stable') if i not in rated][:5]
    assert [item for item, _ in top] == a.item_map.to_raw(np.array(want)).tolist()


def test_blend_refuses_other_data_and_bad_weights(trained, small_ratings):
    from gluonrec.recipe import train_model
    a = trained('biased_mf').recommender()
    train, _ = random_split(small_ratings, 0.3, seed=5)
    other = train_model(train, model='mf', num_factors=2, epochs=1, patience=0, ctx='cpu',
                        val_fraction=0.2).recommender()
    with pytest.raises(ValueError, match='trained on other ratings'):
        Blend([a, other])
    with pytest.raises(ValueError, match='at least two'):
        Blend([a])
    for weights in ([1], [1, -1], [0, 0], [1, np.nan]):
        with pytest.raises(ValueError, match='weights must be 2'):
            Blend([a, a], weights=weights)
