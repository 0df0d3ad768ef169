"""Fold-in: new users from a few ratings, without retraining.

The item side of a trained model stays fixed and only the new users' own parameters
are fitted, under the model's training objective: the squared error of their ratings
(on the scaled range the network was trained on) plus ``reg`` times the squared norm of
their rows once per rating, exactly the user's share of what training minimised.

- a model whose class defines ``fold_in_view`` (mf, biased_mf, nnmf, svdpp, autorec):
  the new user's prediction is linear in that user's own rows, as the model itself
  says (its file holds what it knows), so this module solves a ridge regression per
  user in closed form, all users at once as a batch of small linear systems; under
  ``factors >= 0`` where the view marks constrained columns (nnmf: accelerated
  projected gradient, batched over users). For svdpp and autorec, which read the
  training ratings, the returned model holds the new ratings among those it reads.
- any other registered model (``mlp``, a researcher's own): fresh rows of its user
  tables optimised with Gluon autograd while every other parameter stays frozen.

``fold_in`` returns a ``Recommender`` in which the new users are ordinary users, so
``predict``, ``recommend``, ``similar_users`` and the scripts take them by their raw
ids; ``gluonrec.persist.add_users`` writes them into a saved model folder.
"""
import logging

import numpy as np
import scipy.linalg

from ._compat import mx
from mxnet import autograd, gluon

from .data.ratings import IdMap, Ratings
from .data.split import random_rank_within
from .models import get_model, model_name_of
from .models.base import dense_data, table

__all__ = ['fold_in', 'new_user_ids', 'solve_users', 'choose_reg', 'preferred_reg',
           'fold_in_weights', 'RECORDED_REVEALS', 'parse_ratings', 'gauge_items', 'METHODS']

logger = logging.getLogger(__name__)

METHODS = ('auto', 'closed_form', 'autograd')
#: Added to every ridge system's diagonal, so reg=0 with fewer ratings than factors
#: still has one (the minimum-norm-like) solution.
_JITTER = 1e-8
#: Padded ratings x width held at once by the batched solvers (float64 elements).
_CHUNK_ELEMENTS = 1 << 23


def new_user_ids(rec, count, users=None):
    """Raw ids for ``count`` new users of ``rec``: ``users`` checked (new, distinct, of
    the model's id type; ``ValueError`` otherwise), or fresh ones."""
    user_map = rec.user_map
    integer = user_map.raw_ids.dtype.kind in 'iu'
    if users is None:
        if integer:
            start = int(user_map.raw_ids.max()) + 1 if len(user_map) else 0
            return np.arange(start, start + count, dtype=np.int64)
        taken = set(user_map.to_list())
        fresh, n = [], 0
        while len(fresh) < count:
            name = f'new-{n}'
            n += 1
            if name not in taken:
                fresh.append(name)
        return np.asarray(fresh, dtype=object)
    ids = list(users)
    if len(ids) != count:
        raise ValueError(f'users: {len(ids)} ids given for {count} new users')
    if integer:
        try:
            ids = np.asarray([int(u) for u in ids], dtype=np.int64)
        except (TypeError, ValueError):
            raise ValueError(f'users: this model has integer user ids; got {users!r}') \
                from None
        except OverflowError:
            raise ValueError(f'users: this model has 64-bit integer user ids; {users!r} '
                             'does not fit') from None
    else:
        ids = np.asarray([str(u) for u in ids], dtype=object)
    if len(set(ids.tolist())) != len(ids):
        raise ValueError('users: the new user ids repeat')
    known = user_map.contains(ids)
    if known.any():
        raise ValueError(f'user {ids[np.flatnonzero(known)[0]]!r} is already known to the '
                         'model; fold in new users under new ids')
    return ids


def parse_ratings(rec, ratings, skip_unknown=False):
    """Normalise fold-in input to (user index, inner item, rating) arrays and a count.

    ``ratings`` is one user's ``{raw item: rating}``, a list of such dicts (one per
    user), a DataFrame with columns user, item, rating, or a tuple of three arrays
    (user labels, raw items, ratings). Ratings are on the original scale. With
    ``skip_unknown``, ratings of items the model does not know, or never saw rated, are
    dropped instead of refused (a user left with none is still an error).
    """
    labels = None
    if isinstance(ratings, dict):
        if not ratings:
            raise ValueError('ratings: empty; fold-in needs at least one rating')
        ratings = [ratings]
    if isinstance(ratings, (list, tuple)) and ratings and all(isinstance(r, dict)
                                                               for r in ratings):
        index = np.concatenate([np.full(len(r), n, dtype=np.int64)
                                for n, r in enumerate(ratings)])
        items = [item for r in ratings for item in r]
        values = [value for r in ratings for value in r.values()]
        count = len(ratings)
        empty = [n for n, r in enumerate(ratings) if not r]
        if empty:
            raise ValueError(f'ratings: user #{empty[0]} has no ratings; fold-in needs at '
                             'least one rating per user')
    elif hasattr(ratings, 'columns'):
        missing = {'user', 'item', 'rating'} - set(ratings.columns)
        if missing:
            raise ValueError(f'ratings: DataFrame lacks columns {sorted(missing)}')
        return parse_ratings(rec, (ratings['user'].to_numpy(), ratings['item'].to_numpy(),
                                   ratings['rating'].to_numpy()), skip_unknown)
    elif isinstance(ratings, tuple) and len(ratings) == 3:
        raw_users, items, values = (np.asarray(a) for a in ratings)
        if not len(raw_users) == len(items) == len(values):
            raise ValueError('ratings: user, item and rating arrays differ in length')
        index, labels = _factorize(raw_users)
        count = len(labels)
    else:
        raise ValueError('ratings: give {item: rating}, a list of such dicts, a DataFrame '
                         'with columns user, item, rating, or (users, items, ratings) arrays')
    if len(items) == 0:
        raise ValueError('ratings: empty; fold-in needs at least one rating')
    try:
        values = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError('ratings: ratings must be numbers') from None
    items = np.asarray(items, dtype=object)
    if skip_unknown:
        usable = rec.item_map.contains(items)
        usable[usable] = rec.item_counts[rec.item_map.to_inner(items[usable])] > 0
        index, items, values = index[usable], items[usable], values[usable]
        left = np.bincount(index, minlength=count)
        if not left.all():
            raise ValueError(f'ratings: user #{np.argmin(left)} has no rating of an item the '
                             'model was trained on')
    inner = np.atleast_1d(rec.item_map.to_inner(items, 'item'))
    low, high = rec.scale
    bad = ~np.isfinite(values) | (values < low) | (values > high)
    if bad.any():
        at = np.flatnonzero(bad)[0]
        raise ValueError(f'rating {values[at]!r} of item {items[at]!r} lies '
                         f'outside the scale [{low:g}, {high:g}]')
    untrained = rec.item_counts[inner] == 0
    if untrained.any():
        at = np.flatnonzero(untrained)[0]
        raise ValueError(f'item {items[at]!r} was never rated in training; its factors are '
                         'untrained, so its rating says nothing (skip_unknown=True drops it)')
    pairs = index * len(rec.item_map) + inner
    unique, counts = np.unique(pairs, return_counts=True)
    if (counts > 1).any():
        twice = rec.item_map.to_raw(unique[np.argmax(counts > 1)] % len(rec.item_map))
        raise ValueError(f'ratings: item {twice!r} is rated twice by one user')
    return index, inner, values, count, labels


def _factorize(raw):
    import pandas as pd
    codes, labels = pd.factorize(raw)
    return codes.astype(np.int64), list(labels)


def _padded(index, count, *columns):
    """Arrays (count, m, ...) holding each user's ratings in rows, zero-padded, and the
    users' rating counts; ``index`` sorted."""
    sizes = np.bincount(index, minlength=count)
    slot = np.arange(len(index)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    out = []
    for column in columns:
        full = np.zeros((count, int(sizes.max())) + column.shape[1:], dtype=np.float64)
        full[index, slot] = column
        out.append(full)
    return out, sizes


def _user_chunks(design, target, index, count):
    """(start, stop, X, t, n) for consecutive chunks of users: their design rows and
    targets zero-padded to (users, m, d) and (users, m), and their rating counts, with
    at most ``_CHUNK_ELEMENTS`` padded values of X at a time."""
    order = np.argsort(index, kind='stable')
    ordered = index[order]
    widest = int(np.bincount(index, minlength=count).max())
    per = max(1, _CHUNK_ELEMENTS // max(1, widest * design.shape[1]))
    for start in range(0, count, per):
        stop = min(count, start + per)
        first, last = np.searchsorted(ordered, [start, stop])
        keep = order[first:last]
        (x, t), n = _padded(ordered[first:last] - start, stop - start, design[keep],
                            target[keep])
        yield start, stop, x, t, n


def _normal_equations(design, target, index, count, reg):
    """Per-user A = X'X + reg * n * I and b = X't, batched: (count, d, d), (count, d)."""
    width = design.shape[1]
    gram = np.empty((count, width, width))
    rhs = np.empty((count, width))
    for start, stop, x, t, _ in _user_chunks(design, target, index, count):
        gram[start:stop] = np.matmul(x.transpose(0, 2, 1), x)
        rhs[start:stop] = np.einsum('umd,um->ud', x, t)
    ridge = reg * np.bincount(index, minlength=count) + _JITTER
    gram[:, np.arange(width), np.arange(width)] += ridge[:, None]
    return gram, rhs


def _nonneg_quadratic(matvec, rhs, free, start=None, max_iter=5000, tol=1e-9):
    """argmin_w w'Aw/2 - b'w s.t. w >= 0 except where ``free``, for every user at once:
    accelerated projected gradient (FISTA with adaptive restart); ``matvec(v)`` is
    A v for a batch of vectors (count, d), A positive definite."""
    vector = np.ones_like(rhs)
    for _ in range(30):  # power iteration: the largest eigenvalue of each A
        vector = matvec(vector)
        vector /= np.linalg.norm(vector, axis=1, keepdims=True)
    step = 1.0 / (1.5 * np.einsum('ui,ui->u', vector, matvec(vector)))[:, None]
    lower = np.where(free, -np.inf, 0.0)
    w = np.maximum(np.zeros_like(rhs) if start is None else start, lower)
    y, t = w.copy(), 1.0
    for _ in range(max_iter):
        grad = matvec(y) - rhs
        new = np.maximum(y - step * grad, lower)
        moved = new - w
        if np.abs(moved).max() < tol:
            w = new
            break
        t_next = (1 + np.sqrt(1 + 4 * t * t)) / 2
        restart = np.einsum('ui,ui->u', grad, moved) > 0  # momentum works against us
        y = new + ((t - 1) / t_next) * moved
        y[restart] = new[restart]
        w, t = new, t_next
    return w


def _nonneg_ridge(design, target, index, count, reg, free):
    """Per user, the ridge problem of ``_ridge`` under w >= 0 (except where ``free``).
    With fewer ratings (m) than unknowns (d), A v = X'(X v) + lambda v costs m*d per
    user instead of the d*d of the normal equations."""
    width = design.shape[1]
    sizes = np.bincount(index, minlength=count)
    if sizes.max() >= width:
        gram, rhs = _normal_equations(design, target, index, count, reg)
        return _nonneg_quadratic(lambda v: np.matmul(gram, v[..., None])[..., 0], rhs, free)
    order = np.argsort(index, kind='stable')
    (x, t), n = _padded(index[order], count, design[order], target[order])
    ridge = (reg * n + _JITTER)[:, None]
    xt = x.transpose(0, 2, 1)
    rhs = np.matmul(xt, t[..., None])[..., 0]
    # Start from the unconstrained solution, clipped: usually close to the answer.
    start = _ridge(design, target, index, count, reg)
    return _nonneg_quadratic(
        lambda v: np.matmul(xt, np.matmul(x, v[..., None]))[..., 0] + ridge * v, rhs, free,
        start=start)


def _closed_form(rec, index, inner, scaled, count, reg):
    """User rows {block: (count, width)} of the models with a linear view, solved
    exactly (ridge; non-negative ridge for nnmf)."""
    design, offset, split, free = rec.net.fold_in_view(index, inner, scaled, count,
                                                       rec.item_side())
    target = scaled - offset
    if free is not None:
        return split(_nonneg_ridge(design, target, index, count, reg, free))
    return split(_ridge(design, target, index, count, reg))


def _solve_spd(gram, rhs):
    """Solve the symmetric positive definite systems gram[u] w = rhs[u]: one Cholesky
    solve for a single user (the latency path), batched LU for many."""
    if len(gram) == 1:
        return scipy.linalg.cho_solve(scipy.linalg.cho_factor(gram[0]), rhs[0])[None, :]
    return np.linalg.solve(gram, rhs[..., None])[..., 0]


def _ridge(design, target, index, count, reg):
    """Per user, argmin_w |X w - t|^2 + reg * n * |w|^2, batched over users.

    A new user has rated fewer items (m) than the model has factors (d), so the dual
    form is the cheap one: w = X' (X X' + lambda I)^-1 t, an m x m system instead of
    d x d (the same w). Users with m >= d take the normal equations."""
    width = design.shape[1]
    sizes = np.bincount(index, minlength=count)
    if sizes.max() >= width:
        gram, rhs = _normal_equations(design, target, index, count, reg)
        return _solve_spd(gram, rhs)
    out = np.empty((count, width))
    for start, stop, x, t, n in _user_chunks(design, target, index, count):
        kernel = np.matmul(x, x.transpose(0, 2, 1))
        m = kernel.shape[1]
        # Padding rows are all zero: with lambda on their diagonal their duals are 0.
        kernel[:, np.arange(m), np.arange(m)] += (reg * n + _JITTER)[:, None]
        alpha = _solve_spd(kernel, t)
        out[start:stop] = np.einsum('umd,um->ud', x, alpha)
    return out


def _copy_net(rec, num_users, user_rows, **config):
    """The trained network rebuilt for ``num_users`` users (``config`` overrides more of
    its constructor arguments): every parameter copied, except that each user table
    becomes ``user_rows(block, trained table NDArray)``."""
    net = rec.net
    copy = get_model(model_name_of(net), **dict(net.config, num_users=num_users,
                                                row_sparse_weights=False, **config))
    ctx = rec._ctx()
    mine = {id(b.weight): b for b in net.user_tables()}
    values = {}
    # Parameters pair up in creation order (the prefixes differ between instances).
    for src, dst in zip(net.collect_params().values(), copy.collect_params().values()):
        data = dense_data(src, ctx)
        if id(src) in mine:
            data = user_rows(mine[id(src)], data)
        values[dst.name] = data
    # load_dict sets every parameter from these arrays: no random initialisation first.
    copy.collect_params().load_dict(values, ctx=ctx)
    return copy


def _side_net(rec, count, rows=None):
    """A copy of the network for ``count`` users alone, dense: user rows from ``rows``
    or the mean trained row."""
    def fill(block, data):
        if rows is not None:
            return mx.nd.array(rows[block], ctx=data.context, dtype=data.dtype)
        return mx.nd.broadcast_to(data.mean(axis=0, keepdims=True), (count, data.shape[1]))
    return _copy_net(rec, count, fill, sparse_grad=False)


def _autograd(rec, index, inner, scaled, count, reg, steps=400, lr=0.05, tol=1e-7):
    """User rows by full-batch Adam on the frozen network (any registered model)."""
    side = _side_net(rec, count)
    ctx = rec._ctx()
    users = side.user_tables()
    trainable = [block.weight for block in users]
    for param in side.collect_params().values():
        if all(param is not weight for weight in trainable):
            param.grad_req = 'null'
    schedule = mx.lr_scheduler.CosineScheduler(max_update=steps, base_lr=lr, final_lr=lr / 100)
    trainer = gluon.Trainer(trainable, 'adam', {'learning_rate': lr, 'lr_scheduler': schedule})
    u = mx.nd.array(index, ctx=ctx, dtype=np.int32)
    i = mx.nd.array(inner, ctx=ctx, dtype=np.int32)
    y = mx.nd.array(scaled, ctx=ctx)
    previous = None
    for _ in range(steps):
        with autograd.record(train_mode=False):
            loss = mx.nd.sum(mx.nd.square(side(u, i) - y))
            if reg:
                loss = loss + reg * mx.nd.sum(_user_penalty(side, u))
        loss.backward()
        trainer.step(1)
        side.constrain()
        value = float(loss.asscalar())
        if previous is not None and abs(previous - value) <= tol * max(1.0, abs(value)):
            break
        previous = value
    return {src: table(dst).asnumpy() for src, dst in zip(rec.net.user_tables(), users)}


def _user_penalty(net, user):
    return mx.nd.add_n(*[mx.nd.sum(mx.nd.square(block(user)), axis=-1)
                         for block in net.user_tables()])


def _closed_form_applies(net):
    """Whether the model's own class gives its closed form (``RecModel.fold_in_view``);
    a subclass that inherits one may have changed what it describes."""
    return 'fold_in_view' in vars(type(net))


def _extended(rec, rows, count):
    """The trained network with ``count`` more users whose rows are ``rows``."""
    def grow(block, data):
        new = mx.nd.array(rows[block], ctx=data.context, dtype=data.dtype)
        return mx.nd.concat(data, new, dim=0)
    return _copy_net(rec, rec.net.num_users + count, grow)


def _with_ratings(rec, index, inner, values, count, user_map=None):
    """``rec``'s training ratings followed by those of ``count`` new users (index 0 is
    the first inner id after the known users); ``user_map`` default: inner ids."""
    old = rec.train
    if user_map is None:
        user_map = IdMap(np.arange(old.num_users + count))
    return Ratings(np.concatenate([old.user, old.num_users + index]),
                   np.concatenate([old.item, inner]),
                   np.concatenate([old.rating, np.asarray(values, dtype=np.float32)]),
                   user_map, old.item_map, old.scale, name=old.name,
                   item_names=old.item_names)


def _holding(rec, rows, observed, count):
    """A network that predicts for ``count`` new users with ``rows``, and the inner id
    of the first of them: a copy for them alone, or, for a model that reads the ratings
    (whose item side depends on them), the whole model extended by them with their
    ratings ``observed`` = (user index, item, rating) attached."""
    if not rec.net.uses_ratings:
        return _side_net(rec, count, rows), 0
    net = _extended(rec, rows, count)
    net.attach_ratings(_with_ratings(rec, *observed, count), rec.scaler)
    return net, rec.net.num_users


def preferred_reg(rec):
    """What the scripts fold new users in with: 'auto' when ``rec`` can choose the
    fold-in weight (weights recorded when it was trained, or held-out ratings it never
    trained on), else None (the training weight). A model refit on its validation
    ratings chooses only from recorded weights: choosing on ratings it trained on picks
    weights that are too small (RESULTS.md, fold-in with --refit). A ranking model
    folds in with its training weight."""
    if rec.net.task == 'ranking':
        return None
    if rec.recorded_fold_in_regs():
        return 'auto'
    if rec.config.get('extra', {}).get('settings', {}).get('refit'):
        return None
    return 'auto' if rec.test is not None and len(rec.test) else None


#: How many ratings the new users have whom ``fold_in_weights`` chooses a weight for.
RECORDED_REVEALS = (2, 5, 10, 20, 50)


def fold_in_weights(rec, reveals=RECORDED_REVEALS):
    """``{reveal: weight}``: ``choose_reg``'s fold-in weight for new users with each
    number of ratings in ``reveals`` that known users can simulate, for a model with a
    closed-form fold-in (others: {}; the simulation by autograd costs too much to run
    at training time). ``train_model`` records them from the selection run before a
    refit, whose validation ratings the refit model trains on."""
    if not _closed_form_applies(rec.net) or rec.test is None or not len(rec.test):
        return {}
    weights = {}
    for reveal in reveals:
        if _simulated_count(rec, reveal) == reveal:
            weights[str(reveal)] = float(rec.fold_in_reg(reveal))
    return weights


def _simulated_count(rec, wanted, users=30):
    """How many ratings ``choose_reg`` reveals to pick the weight for new users with
    ``wanted`` ratings: ``wanted``, unless fewer than ``users`` known users with a
    held-out rating (or fewer than all of them) have that many training ratings; then
    the most that many have, with one log line. A new user who rates more items than
    anyone rated in training is served, with the weight chosen for the most there is."""
    counts = np.bincount(rec.train.user, minlength=rec.train.num_users)
    held = np.bincount(rec.test.user, minlength=rec.train.num_users) > 0 \
        if rec.test is not None else np.zeros(len(counts), dtype=bool)
    eligible = np.sort(counts[held])[::-1]
    if not len(eligible) or (eligible >= wanted).sum() >= min(users, len(eligible)):
        return wanted  # (choose_reg says what is missing when no user is held out)
    cap = max(1, int(eligible[min(users, len(eligible)) - 1]))
    logger.info('fold-in weight: too few known users have %d training ratings and a '
                'held-out one; choosing it by simulating users with %d', wanted, cap)
    return cap


def choose_reg(rec, reveal=10, grid=None, users=300, seed=0):
    """The fold-in L2 weight that best predicts held-out ratings of simulated new users.

    The training ``reg`` is right for users the optimiser saw over many epochs; solved
    exactly from a handful of ratings it overfits (on ml-100k with 5 revealed ratings it
    loses to the item baseline). This picks the weight by simulation on data the model
    already has: up to ``users`` known users with at least ``reveal`` training ratings
    and a held-out one are folded in afresh from ``reveal`` of their training ratings,
    and their held-out ratings (``rec.test``) are predicted.

    Parameters
    ----------
    rec : Recommender
        With ``test`` ratings (``TrainedModel.recommender()`` and saved models have the
        validation part).
    reveal : int
    grid : sequence of float, optional
        Default: the training reg times 0.5, 1, 2, 4, 8, 16 and 32.
    users : int
    seed : int

    Returns
    -------
    (float, dict)
        The best weight and the RMSE of each weight tried.
    """
    if rec.test is None or not len(rec.test):
        raise ValueError('choose_reg needs held-out ratings of known users (rec.test)')
    if grid is None:
        base = rec.training_reg() or 0.01
        grid = [base * f for f in (0.5, 1, 2, 4, 8, 16, 32)]
    rng = np.random.RandomState(seed)
    train, test = rec.train, rec.test
    counts = np.bincount(train.user, minlength=train.num_users)
    has_test = np.bincount(test.user, minlength=train.num_users) > 0
    pool = np.flatnonzero((counts >= reveal) & has_test)
    if not len(pool):
        raise ValueError(f'no user has {reveal} training ratings and a held-out one')
    chosen = np.sort(rng.choice(pool, min(users, len(pool)), replace=False))
    in_pool = np.zeros(train.num_users, dtype=bool)
    in_pool[chosen] = True
    rows = np.flatnonzero(in_pool[train.user])
    shown = rows[random_rank_within(train.user[rows], rng) < reveal]
    trained = rec.item_counts > 0
    shown = shown[trained[train.item[shown]]]
    users_of, index = np.unique(train.user[shown], return_inverse=True)
    inner, scaled = train.item[shown], rec.scaler.transform(train.rating[shown])
    target = np.flatnonzero(np.isin(test.user, users_of))
    new = np.searchsorted(users_of, test.user[target])
    ctx = rec._ctx()
    scores = {}
    for reg in grid:
        rows = _solve(rec, index, inner, scaled, len(users_of), float(reg), 'auto')
        side, first = _holding(rec, rows, (index, inner, train.rating[shown]),
                               len(users_of))
        pred = rec.to_original(side(mx.nd.array(first + new, ctx=ctx, dtype=np.int32),
                                    mx.nd.array(test.item[target], ctx=ctx,
                                                dtype=np.int32)).asnumpy())
        scores[float(reg)] = float(np.sqrt(np.mean((pred - test.rating[target]) ** 2)))
    return min(scores, key=scores.get), scores


def _ranking_rows(rec, index, inner, weights, count, reg, method):
    """A ranking model's new users, from their positives: the model's own solve
    (``fold_in_positives``: exact for ials and ease, iALS's projection for bpr_mf and
    gmf)."""
    solver = getattr(rec.net, 'fold_in_positives', None)
    if solver is None:
        raise ValueError(f'{rec.model_name!r} has no fold-in from positives (no closed '
                         'form for a new user); retrain with the new users, or use ials, '
                         'ease, bpr_mf or gmf')
    if method == 'autograd':
        raise ValueError(f"method='autograd' does not fold in the ranking model "
                         f"{rec.model_name!r}; use 'auto'")
    return solver(index, inner, weights, count, reg)


def _solve(rec, index, inner, scaled, count, reg, method):
    if rec.net.task == 'ranking':
        return _ranking_rows(rec, index, inner, scaled, count, reg, method)
    closed = _closed_form_applies(rec.net)
    if method == 'closed_form' and not closed:
        raise ValueError(f'method: no closed form for {rec.model_name!r}; use '
                         "'autograd' or 'auto'")
    if method == 'closed_form' or (method == 'auto' and closed):
        return _closed_form(rec, index, inner, scaled, count, reg)
    if rec.net.uses_ratings:
        raise ValueError(f"method='autograd' does not fold in {rec.model_name!r}, which "
                         "reads the ratings themselves; use 'closed_form' or 'auto'")
    return _autograd(rec, index, inner, scaled, count, reg)


def solve_users(rec, ratings, users=None, reg=None, method='auto', skip_unknown=False):
    """The new users' parameters, without building a model that holds them.

    Arguments as in ``fold_in``. Returns ``((user index, inner item, rating, count),
    new raw ids, {user table block: rows (count, width)}, reg)``: what ``fold_in`` puts
    into the copy it returns (for a big model, building that copy costs more than this).
    """
    if method not in METHODS:
        raise ValueError(f'method must be one of {METHODS}, got {method!r}')
    index, inner, values, count, labels = parse_ratings(rec, ratings, skip_unknown)
    if reg is None:
        reg = rec.training_reg()
    elif isinstance(reg, str) and reg == 'auto' and rec.net.task == 'ranking':
        raise ValueError("reg='auto' chooses by rating error; a ranking model folds in "
                         'with its training reg (reg=None) or one you give')
    elif isinstance(reg, str) and reg == 'auto':
        # Simulated with as many ratings as these users have (their median, at least 2).
        reg = rec.fold_in_reg(_simulated_count(
            rec, max(2, int(np.median(np.bincount(index, minlength=count))))))
    try:
        reg = float(reg)
    except (TypeError, ValueError):
        raise ValueError(f"reg must be a number >= 0 or 'auto', got {reg!r}") from None
    if not np.isfinite(reg) or reg < 0:
        raise ValueError(f'reg must be a finite number >= 0, got {reg!r}')
    if labels is not None and users is None:
        users = labels
    new_ids = new_user_ids(rec, count, users)
    rows = _solve(rec, index, inner, rec.scaler.transform(values), count, reg, method)
    return (index, inner, values, count), new_ids, rows, reg


def fold_in(rec, ratings, users=None, reg=None, method='auto', skip_unknown=False):
    """A copy of ``rec`` that also knows new users, fitted from their ratings alone.

    Parameters
    ----------
    rec : Recommender
    ratings : dict, list of dict, DataFrame or (users, items, ratings)
        ``{raw item id: rating}`` for one new user, a list of such dicts for several,
        or long-form ratings (a DataFrame with columns user, item, rating, or three
        arrays) whose user labels become the new users' ids. Ratings on the original
        scale; items must be known and rated in training.
    users : list, optional
        Raw ids for the new users of dict input (default: the next free integers, or
        'new-0', 'new-1', ... for string ids). They must not be known already.
    reg : float or 'auto', optional
        The L2 weight; default the one the model was trained with (saved models and
        ``TrainedModel.recommender()`` record it). 'auto': the weight ``choose_reg``
        finds best for simulated new users with as many ratings as these have (their
        median), computed once per Recommender and count; with a few ratings per user it
        is larger than the training weight, and predicts better.
    method : {'auto', 'closed_form', 'autograd'}
        'auto': closed form for mf, biased_mf and nnmf, autograd otherwise. A ranking
        model folds in from the new users' positives (``{raw item: weight}``, weight 1
        for a plain positive) by its ``fold_in_positives``: the exact solve of ials
        (its training step for one user) and ease (the user's row), iALS's weighted
        least squares against the item factors for bpr_mf and gmf; neumf has none.
    skip_unknown : bool
        Drop ratings of items unknown to the model or never rated in training (their
        factors carry nothing) instead of raising ``KeyError`` / ``ValueError``.

    Returns
    -------
    Recommender
        Whose user map ends with the new users (``rec`` is left unchanged); their
        ratings join its training ratings, so they are not recommended back.
    """
    from .recommender import Recommender
    (index, inner, values, count), new_ids, rows, reg = solve_users(
        rec, ratings, users=users, reg=reg, method=method, skip_unknown=skip_unknown)
    net = _extended(rec, rows, count)
    old = rec.train
    user_map = IdMap(np.concatenate([old.user_map.raw_ids.astype(new_ids.dtype), new_ids]))
    train = _with_ratings(rec, index, inner, values, count, user_map)
    test = None
    if rec.test is not None:
        test = Ratings(rec.test.user, rec.test.item, rec.test.rating, user_map,
                       old.item_map, old.scale, name=rec.test.name,
                       item_names=old.item_names)
    if net.uses_ratings:
        net.attach_ratings(train, rec.scaler)
    config = dict(rec.config)
    config['extra'] = dict(config.get('extra', {}), folded_in=int(
        config.get('extra', {}).get('folded_in', 0)) + count, reg=reg)
    out = Recommender(net, train, rec.scaler, test=test, history=rec.history, config=config)
    out.item_names = dict(rec.item_names)
    return out


def gauge_items(rec, size=10):
    """Raw ids of the ``size`` most rated items in training (the most rated first).

    Jester asks every new user to rate the same gauge set of ten jokes first (Goldberg
    et al., "Eigentaste", 2001): the jokes nearly every user rated, which this finds
    in the data (all ten in the dataset-2 sample; nine of them in the 5k sample, where
    dozens of jokes were rated by nearly everyone).
    """
    if isinstance(size, bool) or int(size) != size or size < 1:
        raise ValueError(f'size must be a positive integer, got {size!r}')
    counts = rec.item_counts
    order = np.lexsort((np.arange(len(counts)), -counts))[:int(size)]
    order = order[counts[order] > 0]
    return np.atleast_1d(rec.item_map.to_raw(order)).tolist()
