"""Model registry: short names -> HybridBlock classes."""
from .base import RecModel
from .mf import MatrixFactorization
from .biased import BiasedMF
from .nnmf import NonNegativeMF
from .mlp import MLPRecommender
from .svdpp import SVDpp
from .autorec import AutoRec
from .closed_form import EASE, IALS
from .ranking import BPRMF, GMF, NeuMF

__all__ = ['RecModel', 'MatrixFactorization', 'BiasedMF', 'NonNegativeMF', 'MLPRecommender',
           'SVDpp', 'AutoRec', 'BPRMF', 'GMF', 'NeuMF', 'IALS', 'EASE',
           'get_model', 'model_class', 'model_names', 'register_model', 'model_name_of']

_REGISTRY = {
    'mf': MatrixFactorization,
    'biased_mf': BiasedMF,
    'nnmf': NonNegativeMF,
    'mlp': MLPRecommender,
    'svdpp': SVDpp,
    'autorec': AutoRec,
    'bpr_mf': BPRMF,
    'gmf': GMF,
    'neumf': NeuMF,
    'ials': IALS,
    'ease': EASE,
}


def register_model(name, cls=None):
    """Register ``cls`` (a ``RecModel`` subclass) under ``name``; with ``cls`` left out,
    a class decorator: ``@register_model('my_model')``. The name is what
    ``train_model(model=...)``, ``get_model``, ``RatingRegressor``, the scripts'
    ``--model`` and a saved model's ``config.json`` use."""
    if cls is None:
        def decorate(cls):
            register_model(name, cls)
            return cls
        return decorate
    if not (isinstance(cls, type) and issubclass(cls, RecModel)):
        raise ValueError(f'{cls!r} is not a RecModel subclass')
    if not isinstance(name, str) or not name:
        raise ValueError(f'a model name must be a non-empty string, got {name!r}')
    if name in _REGISTRY:
        raise ValueError(f'model name {name!r} is taken by {_REGISTRY[name].__name__}')
    _REGISTRY[name] = cls
    return cls


def model_names(task=None):
    """The registered model names, sorted; with ``task`` ('rating' or 'ranking'), only
    the models of that task (``RecModel.task``)."""
    if task not in (None, 'rating', 'ranking'):
        raise ValueError(f"task must be None, 'rating' or 'ranking', got {task!r}")
    return sorted(name for name, cls in _REGISTRY.items() if task in (None, cls.task))


def model_class(name):
    """The class registered as ``name``; ``ValueError`` naming the choices otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f'unknown model {name!r}; choose from {model_names()}') from None


def get_model(name, **kwargs):
    """Build the model registered as ``name`` with constructor ``kwargs``."""
    return model_class(name)(**kwargs)


def model_name_of(net):
    """The registry name of ``net``'s class (exact class match)."""
    for name, cls in _REGISTRY.items():
        if type(net) is cls:
            return name
    raise ValueError(f'{type(net).__name__} is not a registered model')
