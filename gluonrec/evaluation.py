"""Evaluation: rating errors of a network, and rating plus ranking metrics of a Recommender.

Both report on the original rating scale, with predictions clipped to it as a served
prediction would be.
"""
import numpy as np

from ._compat import mx
from . import metrics
from .context import net_ctx, resolve_ctx
from .data.iterators import RatingIter
from .recommend import recommend_all

__all__ = ['evaluate', 'predict_iter', 'as_iter', 'evaluate_recommender']


def as_iter(data, scaler, batch_size=65536):
    """``data`` itself if it is an iterator, else an unshuffled, padded RatingIter over the
    ``Ratings`` (scaled by ``scaler``) for evaluation."""
    if isinstance(data, mx.io.DataIter):
        return data
    return RatingIter.from_ratings(data, scaler=scaler, batch_size=batch_size, shuffle=False,
                                  last_batch_handle='pad')


def predict_iter(net, data_iter, ctx=None):
    """Predictions and labels for every example of ``data_iter`` (pad removed), numpy."""
    ctx = resolve_ctx(ctx or 'auto')[0] if not isinstance(ctx, mx.Context) else ctx
    data_iter.reset()
    preds, labels = [], []
    for batch in data_iter:
        keep = batch.data[0].shape[0] - batch.pad
        user = batch.data[0][:keep].as_in_context(ctx)
        item = batch.data[1][:keep].as_in_context(ctx)
        preds.append(net(user, item))
        labels.append(batch.label[0][:keep])
    pred = mx.nd.concat(*preds, dim=0).asnumpy().astype(np.float64)
    label = mx.nd.concat(*labels, dim=0).asnumpy().astype(np.float64)
    return pred, label


def evaluate(net, data, scaler=None, ctx=None, batch_size=65536):
    """RMSE and MAE of ``net`` on the original rating scale.

    Parameters
    ----------
    net : RecModel
    data : RatingIter or Ratings
        Labels in the iterator are scaled by ``scaler``; a ``Ratings`` holds
        original-scale ratings and is scaled here.
    scaler : MinMaxScaler, optional
        Maps the network's outputs back to ratings; predictions are clipped to the
        scaler's rating range, as a served prediction would be.

    Returns
    -------
    dict
        ``rmse``, ``mae`` (original scale) and ``n``.
    """
    data = as_iter(data, scaler, batch_size)
    pred, label = predict_iter(net, data, ctx=ctx if ctx is not None else net_ctx(net))
    if scaler is not None:
        pred = scaler.inverse_transform(pred)
        if getattr(scaler, 'low', None) is not None and getattr(scaler, 'high', None) is not None:
            pred = np.clip(pred, scaler.low, scaler.high)  # a served prediction would be
        label = scaler.inverse_transform(label)
    return {'rmse': metrics.rmse(label, pred), 'mae': metrics.mae(label, pred),
            'n': int(len(label))}


def evaluate_recommender(rec, test, k=10, threshold=None, top_quantile=None):
    """Rating and top-k metrics of ``rec`` on held-out ``test`` ratings.

    Parameters
    ----------
    rec : Recommender
    test : Ratings
        Held-out ratings sharing ``rec``'s id maps (inner ``user``, ``item`` and
        original-scale ``rating``).
    k : int
    threshold, top_quantile : float
        The relevance rule (one of them; see ``metrics.relevance_matrix``).

    Returns
    -------
    dict
        rmse, mae, rounded_mae, precision@k, recall@k, map@k, ndcg@k, and the counts
        they rest on. Ranked lists leave out items the user rated in training.
    """
    user, item, truth = test.user, test.item, test.rating.astype(np.float64)
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
