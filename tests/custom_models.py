"""A researcher's own model, defined outside gluonrec as a user would write it: the
contract tests over the registry run over it too (conftest imports this module)."""
from mxnet import gluon, init

from gluonrec import RecModel, register_model

NAME = 'test_gmf'


@register_model(NAME)
class MoodGMF(RecModel):
    r"""Generalised MF with biases and an extra per-user table,
    :math:`\hat r_{ui} = h^\top (p_u \odot q_i) + b_u + b_i + m_u^\top c`: NCF's GMF
    (He et al. 2017) plus a ``mood`` vector per user mixed by a learned ``c``.

    Nothing but ``__init__`` and ``hybrid_forward``: the biases come from the base's
    ``embedding`` helper, the mood table is a plain ``nn.Embedding`` (found by its
    ``num_users`` rows), and the model has no preset, only ``training_defaults``.
    """

    training_defaults = {'optimizer': 'adam', 'lr': 0.02, 'epochs': 6, 'batch_size': 256}

    def __init__(self, num_users, num_items, num_factors=8, mood=2, **kwargs):
        super().__init__(num_users, num_items, num_factors, num_factors, **kwargs)
        with self.name_scope():
            self.user_bias = self.embedding('user', 1, init.Zero())
            self.item_bias = self.embedding('item', 1, init.Zero())
            self.mood = gluon.nn.Embedding(num_users, mood,
                                           weight_initializer=init.Normal(0.1))
            self.weights = self.params.get('weights', shape=(num_factors,), init=init.One())
            self.mix = self.params.get('mix', shape=(mood,), init=init.Normal(0.5))

    def hybrid_forward(self, F, user, item, weights, mix):
        gmf = F.sum(F.broadcast_mul(self.user_embedding(user) * self.item_embedding(item),
                                    F.reshape(weights, (1, -1))), axis=-1)
        mood = F.sum(F.broadcast_mul(self.mood(user), F.reshape(mix, (1, -1))), axis=-1)
        biases = F.reshape(self.user_bias(user), (-1,)) + F.reshape(self.item_bias(item),
                                                                    (-1,))
        return gmf + mood + biases
