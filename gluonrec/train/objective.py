"""The training objective: per-rating error plus the model's L2 penalty, as one block."""
from .._compat import mx  # noqa: F401  (numpy aliases before mxnet)
from mxnet import gluon

__all__ = ['Objective', 'LOSSES']

LOSSES = ('l2', 'l1')


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
