"""Blend: the weighted average of several trained models' predictions."""
import numpy as np

from .recommender import RecommenderBase

__all__ = ['Blend']


class Blend(RecommenderBase):
    """Predictions of several ``Recommender`` objects trained on the same ratings, averaged.

    Models whose errors differ make a better average than either (on ml-100k the
    equal-weight average of biased_mf and I-AutoRec beats both; see RESULTS.md). The
    weights are the caller's (default: equal); choose them on validation data, never on
    a test part.

    A blend is a ``RecommenderBase``: ``predict``, ``score_users`` and
    ``item_baseline`` average the members', so ``gluonrec.recommend(blend, user)`` works,
    for unknown users too. What reads one network (similar items, fold-in, saving) is
    not defined on it: use a member.

    Parameters
    ----------
    recommenders : sequence of Recommender
        At least two, trained on the same ratings (same users, items and pairs).
    weights : sequence of float, optional
        One per recommender, >= 0, not all 0; normalised to sum to 1.
    """

    def __init__(self, recommenders, weights=None):
        recs = list(recommenders)
        if len(recs) < 2:
            raise ValueError(f'a blend needs at least two recommenders, got {len(recs)}')
        first = recs[0]
        for index, rec in enumerate(recs[1:], 1):
            if not _same_training(first, rec):
                raise ValueError(f'recommender {index} was trained on other ratings than '
                                 'recommender 0 (users, items or pairs differ): blend '
                                 'models trained on the same ratings')
        weights = np.full(len(recs), 1.0) if weights is None else \
            np.asarray(weights, dtype=np.float64)
        if weights.shape != (len(recs),) or not np.isfinite(weights).all() or \
                (weights < 0).any() or not weights.sum() > 0:
            raise ValueError(f'weights must be {len(recs)} finite numbers >= 0, not all 0, '
                             f'got {weights.tolist()}')
        super().__init__(first.train)
        self.recommenders, self.weights = recs, weights / weights.sum()
        self.item_names = dict(first.item_names)

    def predict(self, raw_users, raw_items, unknown='error'):
        """The weighted average of the members' ``predict`` (same arguments)."""
        return sum(w * rec.predict(raw_users, raw_items, unknown=unknown)
                   for w, rec in zip(self.weights, self.recommenders))

    def score_users(self, inner_users):
        """The weighted average of the members' scores of every item, (users, items)."""
        return sum(w * rec.score_users(inner_users)
                   for w, rec in zip(self.weights, self.recommenders))

    def item_baseline(self):
        """The weighted average of the members' baselines, (num_items,)."""
        return sum(w * rec.item_baseline() for w, rec in zip(self.weights, self.recommenders))


def _same_training(a, b):
    return all(np.array_equal(x, y) for x, y in (
        (a.user_map.raw_ids, b.user_map.raw_ids), (a.item_map.raw_ids, b.item_map.raw_ids),
        (a.train.user, b.train.user), (a.train.item, b.train.item)))
