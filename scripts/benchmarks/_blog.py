"""The original blog's way, rebuilt as a baseline: one NDArray per rating, no hybridize.

A reconstruction of the approach of the "matrix factorisation on Jester with MXNet
Gluon" blog post (its iterator built one NDArray per rating and its loop ran the
imperative network with dense gradients); written here for measurement only.
"""
import time

import numpy as np

from gluonrec._compat import mx
from mxnet import autograd, gluon


class BlogIter(mx.io.DataIter):
    """Batches assembled from one NDArray per rating, as the blog's iterator did."""

    def __init__(self, user, item, rating, batch_size=64, seed=0):
        super().__init__(batch_size)
        self.data = np.stack([user, item, rating], axis=1)
        self.rng = np.random.RandomState(seed)
        self.cursor = 0

    def reset(self):
        # The blog shuffled with random.shuffle on the 2-D array (duplicating rows);
        # a correct permutation is used here so that only the speed is compared.
        self.data = self.data[self.rng.permutation(len(self.data))]
        self.cursor = 0

    def next(self):
        if self.cursor + self.batch_size > len(self.data):
            raise StopIteration
        rows = self.data[self.cursor:self.cursor + self.batch_size]
        self.cursor += self.batch_size
        users = [mx.nd.array([row[0]]) for row in rows]
        items = [mx.nd.array([row[1]]) for row in rows]
        labels = [mx.nd.array([row[2]]) for row in rows]
        return mx.io.DataBatch(data=[mx.nd.concat(*users, dim=0), mx.nd.concat(*items, dim=0)],
                               label=[mx.nd.concat(*labels, dim=0)])


def blog_iter_rate(user, item, rating, seconds=3.0, batch_size=64):
    """Ratings per second the blog-style iterator delivers (time-capped)."""
    it = BlogIter(user, item, rating, batch_size)
    tic, n = time.time(), 0
    for batch in it:
        batch.label[0].wait_to_read()
        n += batch_size
        if time.time() - tic > seconds:
            break
    return n / (time.time() - tic)


class BlogMF(gluon.Block):
    """The blog's network: two dense-gradient embeddings and a dot product."""

    def __init__(self, num_users, num_items, k=16):
        super().__init__()
        with self.name_scope():
            self.user = gluon.nn.Embedding(num_users, k)
            self.item = gluon.nn.Embedding(num_items, k)

    def forward(self, user, item):
        return (self.user(user) * self.item(item)).sum(axis=1)


def blog_train(user, item, rating, num_users, num_items, seconds=10.0, epochs=1,
               batch_size=64, lr=0.05, k=16, val=None, on_epoch=None):
    """Train the blog's way for up to ``seconds``; return (net, ratings/s, epochs done).

    ``val``: optional callable net -> RMSE, called after each full epoch, and
    ``on_epoch(epoch, elapsed, rmse)`` to record a curve.
    """
    net = BlogMF(num_users, num_items, k)
    net.initialize(mx.init.Normal(0.1))
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': lr})
    loss_fn = gluon.loss.L2Loss()
    it = BlogIter(user, item, rating, batch_size)
    tic, seen, done = time.time(), 0, 0
    for epoch in range(epochs):
        it.reset()
        for batch in it:
            with autograd.record():
                loss = loss_fn(net(batch.data[0], batch.data[1]), batch.label[0])
            loss.backward()
            trainer.step(batch_size)
            seen += batch_size
            if time.time() - tic > seconds:
                break
        else:
            done += 1
            if val is not None and on_epoch is not None:
                on_epoch(epoch + 1, time.time() - tic, val(net))
            continue
        break
    mx.nd.waitall()
    return net, seen / (time.time() - tic), done
