"""Evaluate a Recommender on held-out ratings: rating errors and ranking metrics."""
import numpy as np

from . import metrics
from .recommend import recommend_all

__all__ = ['evaluate_recommender']


def evaluate_recommender(rec, test, k=10, threshold=None, top_quantile=None):
    """Rating and top-k metrics of ``rec`` on held-out ``test`` ratings.

    Parameters
    ----------
    rec : Recommender
    test : dict or Ratings
        Inner ``user``, ``item`` and original-scale ``rating`` arrays sharing ``rec``'s
        id maps.
    k : int
    threshold, top_quantile : float
        The relevance rule (one of them; see ``metrics.relevance_matrix``).

    Returns
    -------
    dict
        rmse, mae, rounded_mae, precision@k, recall@k, map@k, ndcg@k, and the counts
        they rest on. Ranked lists leave out items the user rated in training.
    """
    if not isinstance(test, dict):
        test = {'user': test.user, 'item': test.item, 'rating': test.rating}
    user, item, truth = test['user'], test['item'], test['rating'].astype(np.float64)
    pred = rec.score_pairs(user, item)
    out = {'ratings': int(len(truth)), 'rmse': metrics.rmse(truth, pred),
           'mae': metrics.mae(truth, pred),
           'rounded_mae': metrics.rounded_mae(truth, pred, scale=rec.scale)}
    relevant = metrics.relevance_matrix(user, item, truth, len(rec.user_map),
                                        len(rec.item_map), threshold=threshold,
                                        top_quantile=top_quantile)
    users = np.unique(user)
    _, top, _ = recommend_all(rec, n=k, users=users)
    out.update(metrics.ranking_metrics(top, relevant[users], k))
    out['users_ranked'] = int((np.asarray(relevant[users].sum(axis=1)).ravel() > 0).sum())
    return out
