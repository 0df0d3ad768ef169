"""The training objectives: per-rating error plus the model's L2 penalty (explicit
ratings), or a ranking loss over sampled negatives (implicit feedback), each one block."""
from .._compat import mx  # noqa: F401  (numpy aliases before mxnet)
from mxnet import gluon

__all__ = ['Objective', 'RankingObjective', 'LOSSES', 'RANKING_LOSSES', 'make_objective']

#: Losses on explicit ratings (batches of (user, item) -> rating).
LOSSES = ('l2', 'l1')
#: Losses on positives with sampled negatives (``NegativeSampleIter``'s batches).
RANKING_LOSSES = ('bpr', 'bce')


class Objective(gluon.HybridBlock):
    """Prediction error and training objective in one graph, so a hybridized step is a
    single cached-graph call: returns (error, error + reg * penalty), each (batch,).

    The error is the squared ('l2') or absolute ('l1') difference, not Gluon's L2Loss
    (half the squared error); ``reg`` weighs the model's ``penalty`` (the squared L2
    norm of the rows a rating uses).
    """

    def __init__(self, net, reg, loss='l2'):
        if loss not in LOSSES:
            raise ValueError(f'loss must be one of {LOSSES}, got {loss!r}')
        super().__init__(prefix='objective_')
        self.net, self.reg, self.square = net, float(reg), loss == 'l2'

    def hybrid_forward(self, F, user, item, label):
        diff = self.net(user, item) - label
        err = F.square(diff) if self.square else F.abs(diff)
        if not self.reg:
            return err, err
        return err, err + self.reg * self.net.penalty(F, user, item)


class RankingObjective(gluon.HybridBlock):
    r"""A ranking loss over a batch of (user, positive item, negatives): returns (loss,
    loss + reg * penalty), each (batch,), per positive.

    With :math:`x_{ui}` the model's score:

    - 'bpr' (Rendle et al. 2009): :math:`\frac1n\sum_j -\ln\sigma(x_{ui} - x_{uj})`
      over the positive's ``n`` negatives;
    - 'bce' (NCF, He et al. 2017): :math:`-\ln\sigma(x_{ui}) - \sum_j
      \ln(1 - \sigma(x_{uj}))`, each negative an example labelled 0.

    The positive's term is multiplied by its weight (1 for plain positives). The penalty
    is the model's ``penalty`` of (user, positive) plus the mean of its
    ``item_penalty`` over the negatives: every row a term uses, as in BPR's update.
    """

    def __init__(self, net, reg, loss='bpr'):
        if loss not in RANKING_LOSSES:
            raise ValueError(f'loss must be one of {RANKING_LOSSES}, got {loss!r}')
        super().__init__(prefix='objective_')
        self.net, self.reg, self.loss = net, float(reg), loss

    def hybrid_forward(self, F, user, item, negative, weight):
        positive = self.net(user, item)
        users = F.reshape(F.broadcast_like(F.expand_dims(user, axis=1), negative), (-1,))
        others = F.reshape_like(self.net(users, F.reshape(negative, (-1,))), negative)
        if self.loss == 'bpr':
            diff = F.broadcast_sub(F.expand_dims(positive, axis=1), others)
            err = F.mean(F.Activation(-diff, act_type='softrelu'), axis=1) * weight
        else:
            err = F.Activation(-positive, act_type='softrelu') * weight + \
                F.sum(F.Activation(others, act_type='softrelu'), axis=1)
        if not self.reg:
            return err, err
        items = F.reshape(negative, (-1,))
        penalty = self.net.penalty(F, user, item) + F.mean(
            F.reshape_like(self.net.item_penalty(F, items), negative), axis=1)
        return err, err + self.reg * penalty


def make_objective(net, reg, loss):
    """The objective block for ``loss``: a rating loss (``LOSSES``) or a ranking one
    (``RANKING_LOSSES``)."""
    if loss in RANKING_LOSSES:
        return RankingObjective(net, reg, loss)
    return Objective(net, reg, loss)
