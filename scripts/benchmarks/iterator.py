#!/usr/bin/env python
"""Batches per second: the blog-style iterator against RatingIter, same data, one run.

Data: 1.7M synthetic Jester-scale ratings (59,132 users x 150 jokes). The blog-style
iterator (one NDArray per rating) is time-capped and its rate extrapolated.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gluonrec._compat import mx  # noqa: E402
from gluonrec.data import MinMaxScaler, RatingIter, make_jester_scale  # noqa: E402
from _blog import blog_iter_rate  # noqa: E402


def rating_iter_rate(ratings, scaler, batch_size, epochs=2):
    it = RatingIter.from_ratings(ratings, scaler, batch_size=batch_size, seed=0)
    tic, n = time.time(), 0
    for _ in range(epochs):
        for batch in it:
            n += batch.data[0].shape[0]
        it.reset()
    mx.nd.waitall()
    return n / (time.time() - tic)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--ratings', type=int, default=1_700_000)
    parser.add_argument('--cap', type=float, default=5.0,
                        help='seconds for the blog-style iterator (default: %(default)s)')
    args = parser.parse_args(argv)
    data = make_jester_scale(args.ratings)
    scaler = MinMaxScaler.from_scale(data.scale)
    scaled = scaler.transform(data.rating)
    blog = blog_iter_rate(data.user, data.item, scaled, seconds=args.cap, batch_size=64)
    ours64 = rating_iter_rate(data, scaler, 64)
    ours1024 = rating_iter_rate(data, scaler, 1024)
    print(f'data: {len(data):,} synthetic ratings; blog-style iterator capped at {args.cap:g} s '
          '(rate extrapolated)')
    print(f'{"iterator":<32}{"ratings/s":>14}{"batches/s":>12}{"ratio":>9}')
    for name, rate, size in (('blog-style, batch 64', blog, 64),
                             ('RatingIter, batch 64', ours64, 64),
                             ('RatingIter, batch 1024', ours1024, 1024)):
        print(f'{name:<32}{rate:>14,.0f}{rate / size:>12,.0f}{rate / blog:>8,.0f}x')
    print(f'targets: RatingIter@64 >= 50x blog-style: {ours64 / blog:,.0f}x; '
          f'RatingIter@1024 >= 8M ratings/s: {ours1024 / 1e6:.1f}M')


if __name__ == '__main__':
    sys.exit(main())
