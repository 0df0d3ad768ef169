#!/usr/bin/env python
"""Ratings per second for one epoch of MF (k=16) on 1.7M synthetic Jester-scale ratings.

Three ways in one process run: the blog's way (one NDArray per rating, batch 64, dense
gradients, not hybridized; time-capped and extrapolated), gluonrec's default settings
(the Jester preset), and gluonrec's fastest settings.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gluonrec import load_dataset, train_model  # noqa: E402
from gluonrec.data import MinMaxScaler  # noqa: E402
from gluonrec.presets import preset  # noqa: E402
from _blog import blog_train  # noqa: E402


def gluonrec_rate(data, batch_size, optimizer, lr, reg, sparse):
    """(ratings/s over fit's wall time, ratings/s of the epoch itself) for one epoch."""
    result = train_model(data, model='mf', val_fraction=0, num_factors=16, epochs=1,
                         batch_size=batch_size, optimizer=optimizer, lr=lr, reg=reg, wd=0.0,
                         patience=0, sparse_grad=sparse, ctx='cpu')
    return len(data) / result.seconds, result.history[0]['ratings_per_sec']


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--ratings', type=int, default=1_700_000)
    parser.add_argument('--cap', type=float, default=20.0,
                        help='seconds for the blog-style run (default: %(default)s)')
    args = parser.parse_args(argv)
    data = load_dataset('synthetic-large', num_ratings=args.ratings)
    scaler = MinMaxScaler.from_scale(data.scale)
    scaled = scaler.transform(data.rating)
    _, blog, _ = blog_train(data.user, data.item, scaled, data.num_users, data.num_items,
                            seconds=args.cap)
    p = preset('jester', 'mf')
    default, _ = gluonrec_rate(data, p['batch_size'], p['optimizer'], p['lr'], p['reg'],
                               p['sparse_grad'])
    fastest, _ = gluonrec_rate(data, 8192, 'sgd', 1.0, 0.0, True)
    print(f'data: {len(data):,} synthetic ratings, mf k=16, one epoch, wall time including '
          f'hybridize/first batch; blog-style capped at {args.cap:g} s, extrapolated')
    print(f'{"way":<58}{"ratings/s":>12}{"ratio":>9}')
    rows = (('blog: NDArray per rating, batch 64, dense, imperative', blog),
            (f'gluonrec default: {p["optimizer"]}, batch {p["batch_size"]}, sparse, hybridized',
             default),
            ('gluonrec fastest: sgd, batch 8192, sparse, hybridized', fastest))
    for name, rate in rows:
        print(f'{name:<58}{rate:>12,.0f}{rate / blog:>8,.0f}x')
    print(f'targets: default >= 100x blog: {default / blog:,.0f}x; default >= 2M ratings/s: '
          f'{default / 1e6:.2f}M')


if __name__ == '__main__':
    sys.exit(main())
