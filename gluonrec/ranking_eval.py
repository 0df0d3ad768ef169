"""Evaluation of ranking: full ranking over every item, per user, with paired comparison.

``evaluate_ranking`` scores every item for every test user (a chunk of users at a time,
so memory stays at ``chunk x num_items`` float32 scores), masks the user's training
positives, keeps the top k and computes the metrics of ``gluonrec.metrics.
per_user_metrics`` (Recall and NDCG as RecBole defines them; Precision, MAP, HR, MRR).
``per_user=True`` returns a DataFrame with a row per user as well, and
``compare_per_user`` compares two models on the same users: the mean difference with a
bootstrap confidence interval, a paired t-test and a Wilcoxon signed-rank test.

``sampled_metrics`` ranks each held-out positive among 100 sampled negatives, NCF's
protocol, for reproducing older papers only: Krichene and Rendle ("On Sampled Metrics
for Item Recommendation", KDD 2020) show that sampled metrics can order models
differently from the full ranking they stand for; report the full ranking.
"""
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .data.implicit import in_sorted, pair_keys
from .metrics import per_user_metrics
from .ranking import top_n

__all__ = ['evaluate_ranking', 'compare_per_user', 'sampled_metrics', 'RankingValidation',
           'Popularity',
           'score_function', 'top_k_items', 'chunk_rows', 'pairs_matrix']

#: Bytes of float32 scores ``top_k_items`` holds at a time (a chunk of users x items).
SCORE_BUDGET = 256 * 2 ** 20


def score_function(model):
    """inner user ids -> (len(users), num_items) scores, for a ``RecommenderBase``
    (``score_users``) or a ``RecModel`` (``score_matrix``)."""
    if hasattr(model, 'score_users'):
        return model.score_users
    if hasattr(model, 'score_matrix'):
        return model.score_matrix
    raise TypeError(f'{type(model).__name__} is neither a Recommender nor a RecModel')


class Popularity:
    """Scores every item by its training positives, the same for every user: the
    baseline a ranking model must beat."""

    def __init__(self, train):
        self.counts = np.bincount(train.item, weights=train.rating,
                                  minlength=train.num_items).astype(np.float32)

    def score_matrix(self, users, items=None):
        counts = self.counts if items is None else self.counts[np.asarray(items)]
        return np.broadcast_to(counts, (len(np.atleast_1d(users)), len(counts))).copy()


def pairs_matrix(parts, num_users, num_items):
    """The (user, item) pairs of ``parts`` (Ratings) as one boolean CSR matrix."""
    users = np.concatenate([p.user for p in parts]) if parts else np.empty(0, np.int32)
    items = np.concatenate([p.item for p in parts]) if parts else np.empty(0, np.int32)
    matrix = sp.csr_matrix((np.ones(len(users), dtype=bool), (users, items)),
                           shape=(num_users, num_items))
    matrix.sum_duplicates()
    return matrix


def chunk_rows(num_items, budget=None):
    """Users per chunk so that a chunk's float32 scores fit in ``budget`` bytes
    (default ``SCORE_BUDGET``)."""
    budget = SCORE_BUDGET if budget is None else budget
    return max(1, int(budget // (4 * max(1, num_items))))


def top_k_items(score, users, k, num_items, exclude=None, chunk_size=None, columns=None,
                with_scores=False):
    """The ``k`` best items of each user, best first, with ``exclude``'s items left out.

    Parameters
    ----------
    score : callable
        inner users -> (len(users), num_items) scores (``score_function``).
    users : int array
    k : int
    num_items : int
        The width of a row of scores.
    exclude : scipy.sparse.csr_matrix of bool, optional
        Per user, the items that may not be returned (training positives), masked
        through its CSR rows (no dense mask).
    chunk_size : int, optional
        Users scored at a time; default from ``SCORE_BUDGET``.
    columns : bool array (num_items,), optional
        Items that may not be returned for any user.
    with_scores : bool
        Also return the selected scores.

    Returns
    -------
    int64 array (len(users), min(k, num_items)): inner item ids, -1 where fewer than k
    remain; with ``with_scores``, (ids, float32 scores (-inf at the -1s)).
    """
    users = np.asarray(users, dtype=np.int64)
    chunk_size = chunk_size or chunk_rows(num_items)
    width = min(k, num_items)
    out = np.full((len(users), width), -1, dtype=np.int64)
    values = np.full((len(users), width), -np.inf, dtype=np.float32)
    for start in range(0, len(users), chunk_size):
        chunk = users[start:start + chunk_size]
        scores = np.asarray(score(chunk), dtype=np.float32)
        if exclude is not None:
            sub = exclude[chunk]
            rows = np.repeat(np.arange(len(chunk)), np.diff(sub.indptr))
            scores[rows, sub.indices] = -np.inf
        if columns is not None:
            scores[:, columns] = -np.inf
        out[start:start + len(chunk)], values[start:start + len(chunk)] = top_n(scores, k)
    return (out, values) if with_scores else out


def _evaluated_users(train, test):
    """Users with a test positive and a training one (the others cannot be ranked by
    what the model learnt of them)."""
    has_test = np.bincount(test.user, minlength=test.num_users) > 0
    has_train = np.bincount(train.user, minlength=train.num_users) > 0
    return np.flatnonzero(has_test & has_train), int((has_test & ~has_train).sum())


def evaluate_ranking(model, train, test, k=10, exclude=(), per_user=False, users=None,
                     chunk_size=None):
    """Full-ranking metrics of ``model`` on held-out positives.

    Parameters
    ----------
    model : Recommender, RecommenderBase or RecModel
        Scores every item for a user (``score_function``).
    train : Ratings
        The training positives: masked from each user's ranking.
    test : Ratings
        Held-out positives sharing the id maps; every row is a relevant item.
    k : int or sequence of int
        Cut-offs; the metrics of ``gluonrec.metrics.per_user_metrics`` at each.
    exclude : sequence of Ratings
        Further pairs to mask (the validation part, when testing after model selection).
    per_user : bool
        Also return a DataFrame with a row per evaluated user: 'user' (raw id),
        'relevant' (test positives) and every metric.
    users : int array, optional
        Inner ids to evaluate (default: every user with a test positive and a training
        one; users without a training positive are counted under 'users_skipped').

    Returns
    -------
    dict, or (dict, DataFrame) with ``per_user``
        The mean of each metric over the evaluated users, 'users' and 'users_skipped'.
    """
    ks = [int(k)] if np.ndim(k) == 0 else [int(v) for v in k]
    if not ks or min(ks) < 1:
        raise ValueError(f'k must be positive integers, got {k!r}')
    skipped = 0
    if users is None:
        users, skipped = _evaluated_users(train, test)
    users = np.asarray(users, dtype=np.int64)
    if not len(users):
        raise ValueError(f'{test.name}: no user has both a test positive and a training '
                         'one to rank')
    shape = (train.num_users, train.num_items)
    masked = pairs_matrix([train, *exclude], *shape)
    relevant = pairs_matrix([test], *shape)[users]
    top = top_k_items(score_function(model), users, max(ks), train.num_items,
                      exclude=masked, chunk_size=chunk_size)
    table = {'user': np.asarray(train.user_map.to_raw(users)),
             'relevant': np.asarray(relevant.sum(axis=1)).ravel()}
    for cut in ks:
        rows, values = per_user_metrics(top, relevant, min(cut, top.shape[1]))
        for key, column in values.items():
            full = np.full(len(users), np.nan)
            full[rows] = column
            table[key.split('@')[0] + f'@{cut}'] = full
    frame = pd.DataFrame(table)
    scores = {key: float(frame[key].mean()) for key in frame.columns
              if key not in ('user', 'relevant')}
    scores.update(users=int(len(users)), users_skipped=skipped)
    return (scores, frame) if per_user else scores


def compare_per_user(a, b, metric='ndcg@10', resamples=10000, confidence=0.95, seed=0):
    """Paired comparison of two models' per-user results on the same users.

    Parameters
    ----------
    a, b : DataFrame
        ``evaluate_ranking(..., per_user=True)``'s tables; users are matched by raw id
        and only users in both count.
    metric : str
    resamples : int
        Bootstrap resamples of the users for the confidence interval.

    Returns
    -------
    dict
        'users', 'mean_a', 'mean_b', 'difference' (b - a), 'ci_low', 'ci_high' (the
        percentile bootstrap interval of the mean difference), 't_pvalue' (paired
        t-test), 'wilcoxon_pvalue' (signed-rank test; 1.0 when every difference is 0).
    """
    from scipy import stats
    for name, frame in (('a', a), ('b', b)):
        if metric not in frame.columns:
            raise ValueError(f'{name} has no column {metric!r}; it has {list(frame.columns)}')
    joined = a[['user', metric]].merge(b[['user', metric]], on='user', suffixes=('_a', '_b'))
    joined = joined.dropna()
    if len(joined) < 2:
        raise ValueError(f'the two tables share {len(joined)} users; a paired comparison '
                         'needs at least 2')
    x, y = joined[f'{metric}_a'].to_numpy(), joined[f'{metric}_b'].to_numpy()
    diff = y - x
    rng = np.random.RandomState(seed)
    means = np.empty(resamples)
    for start in range(0, resamples, 1000):  # 1,000 resamples of every user at a time
        size = min(1000, resamples - start)
        means[start:start + size] = diff[rng.randint(0, len(diff), (size, len(diff)))] \
            .mean(axis=1)
    tail = (1 - confidence) / 2
    nonzero = diff[diff != 0]
    return {'metric': metric, 'users': int(len(diff)), 'mean_a': float(x.mean()),
            'mean_b': float(y.mean()), 'difference': float(diff.mean()),
            'ci_low': float(np.quantile(means, tail)),
            'ci_high': float(np.quantile(means, 1 - tail)),
            't_pvalue': float(stats.ttest_rel(y, x).pvalue) if diff.std() > 0 else 1.0,
            'wilcoxon_pvalue': float(stats.wilcoxon(nonzero).pvalue) if len(nonzero) else 1.0}


def sampled_metrics(model, train, test, num_negatives=100, k=10, seed=0):
    """HR@k and NDCG@k with each held-out positive ranked among ``num_negatives`` items
    the user has no positive for (in train or test), NCF's protocol.

    Documented as misleading (Krichene and Rendle 2020; the module docstring): use it
    to compare with papers that report it, never to choose between models.
    """
    score = score_function(model)
    taken = pairs_matrix([train, test], train.num_users, train.num_items)
    rng = np.random.RandomState(seed)
    pairs = taken.tocoo()
    keys = np.sort(pair_keys(pairs.row, pairs.col, train.num_items))
    users = test.user.astype(np.int64)
    negatives = rng.randint(0, train.num_items, (len(users), num_negatives))
    while True:  # redraw the negatives that are positives, all at once per round
        bad = in_sorted(keys, pair_keys(users[:, None], negatives, train.num_items))
        if not bad.any():
            break
        negatives[bad] = rng.randint(0, train.num_items, int(bad.sum()))
    ranks = np.empty(len(users), dtype=np.int64)
    order = np.argsort(users, kind='stable')
    for start in range(0, len(order), 1024):
        rows = order[start:start + 1024]
        unique, where = np.unique(users[rows], return_inverse=True)
        scores = np.asarray(score(unique), dtype=np.float64)[where]
        positive = scores[np.arange(len(rows)), test.item[rows]]
        others = np.take_along_axis(scores, negatives[rows], axis=1)
        ranks[rows] = (others > positive[:, None]).sum(axis=1) + 1  # ties favour the positive
    hit = ranks <= k
    return {f'hr@{k}': float(hit.mean()),
            f'ndcg@{k}': float(np.where(hit, 1 / np.log2(ranks + 1), 0.0).mean()),
            'positives': int(len(users)), 'negatives_per_positive': int(num_negatives)}


class RankingValidation:
    """What ``fit`` validates a ranking model with after every epoch: NDCG@k (and
    Recall@k, HR@k) of the full ranking of ``val``'s positives, ``train``'s masked.

    ``monitor`` ('val_ndcg@k') is what early stopping and the best parameters follow,
    higher being better (``mode`` 'max').
    """

    mode = 'max'

    def __init__(self, train, val, k=10, chunk_size=None):
        self.train, self.val, self.k, self.chunk_size = train, val, int(k), chunk_size
        self.monitor = f'val_ndcg@{self.k}'
        self.users, _ = _evaluated_users(train, val)
        if not len(self.users):
            raise ValueError(f'{val.name}: no validation user has a training positive')

    def __call__(self, net):
        scores = evaluate_ranking(net, self.train, self.val, k=self.k, users=self.users,
                                  chunk_size=self.chunk_size)
        return {f'val_{key}': scores[key] for key in
                (f'ndcg@{self.k}', f'recall@{self.k}', f'hit@{self.k}')}

