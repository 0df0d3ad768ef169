"""Write your own model: define it, register it, and gluonrec treats it as a built-in.

Run from the repository root: ``python examples/custom_model.py`` (synthetic ratings,
offline), or ``python examples/custom_model.py --data PATH`` with a MovieLens folder.
It trains the model with ``train_model``, tunes it with scikit-learn's
``GridSearchCV``, saves it, reloads it in a fresh Python process, folds a new user in,
and recommends and finds similar items: every step a built-in model takes, with
nothing written for it but ``__init__`` and ``hybrid_forward``.
"""
import argparse
import os
import subprocess
import sys
import tempfile

from mxnet import init
from sklearn.model_selection import GridSearchCV

import gluonrec as gr
from gluonrec.sklearn import RatingRegressor, UserKFold


@gr.register_model('user_scaled_mf')
class UserScaledMF(gr.RecModel):
    r"""Biased MF whose interaction term each user scales:
    :math:`\hat r_{ui} = \mu + b_u + b_i + (1 + s_u)\, p_u^\top q_i`.

    ``s_u`` is an extra per-user table: made with ``self.embedding('user', 1)``, it is
    penalised in training, fitted by fold-in and extended by ``add_users`` with no
    further code. ``training_defaults`` stand in for a preset.
    """

    training_defaults = {'optimizer': 'adam', 'lr': 0.01, 'epochs': 12, 'reg': 0.01}

    def __init__(self, num_users, num_items, num_factors=16, **kwargs):
        super().__init__(num_users, num_items, num_factors, num_factors, **kwargs)
        with self.name_scope():
            self.user_bias = self.embedding('user', 1, init.Zero())
            self.item_bias = self.embedding('item', 1, init.Zero())
            self.user_scale = self.embedding('user', 1, init.Zero())
            self.global_bias = self.params.get('global_bias', shape=(1,), init=init.Zero())

    def hybrid_forward(self, F, user, item, global_bias):
        dot = F.sum(self.user_embedding(user) * self.item_embedding(item), axis=-1)
        scale = 1 + F.reshape(self.user_scale(user), (-1,))
        biases = F.reshape(self.user_bias(user), (-1,)) + F.reshape(self.item_bias(item),
                                                                    (-1,))
        return F.broadcast_add(scale * dot + biases, global_bias)


RELOAD = '''
import sys
sys.path.insert(0, {here!r})
import custom_model  # registers user_scaled_mf; load_model names this module otherwise
import gluonrec as gr
rec = gr.load_model({folder!r})
print(rec.model_name, len(rec.user_map), 'users,', len(rec.item_map), 'items')
'''


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', help='a MovieLens folder (default: synthetic ratings)')
    args = parser.parse_args(argv)
    ratings = gr.load_movielens(args.data) if args.data else \
        gr.make_synthetic(300, 60, 9000, rank=3, seed=0)

    # 1. The recipe: a validation split, early stopping, the model's own defaults.
    result = gr.train_model(ratings, model='user_scaled_mf', ctx='cpu', verbose=True)
    print('validation RMSE', round(result.summary()['val_rmse'], 4))

    # 2. scikit-learn: the same model as a regressor over (user, item) pairs.
    frame = ratings.to_dataframe()
    search = GridSearchCV(RatingRegressor('user_scaled_mf', epochs=4, ctx='cpu'),
                          {'reg': [0.001, 0.05]}, cv=UserKFold(3),
                          scoring='neg_root_mean_squared_error')
    search.fit(frame[['user', 'item']].to_numpy(), frame['rating'].to_numpy())
    print('GridSearchCV chose', search.best_params_)

    # 3. Save, and load in a fresh process (which imports this module first).
    folder = os.path.join(tempfile.mkdtemp(), 'user_scaled_mf')
    result.save(folder)
    here = os.path.dirname(os.path.abspath(__file__))
    done = subprocess.run([sys.executable, '-c', RELOAD.format(here=here, folder=folder)],
                          capture_output=True, text=True, check=True)
    print('reloaded in a fresh process:', done.stdout.strip())

    # 4. Fold in a new user, recommend, and find similar items.
    rec = gr.load_model(folder)
    liked = rec.item_map.raw_ids[:5].tolist()
    me, (new_id,) = gr.add_users(folder, {item: ratings.scale[1] for item in liked})
    print('new user', new_id, 'gets', [item for item, _ in gr.recommend(me, new_id, n=5)])
    print('items like', liked[0], ':', [item for item, _ in
                                         gr.similar_items(rec, liked[0], k=3)])
    return 0


if __name__ == '__main__':
    sys.exit(main())
