"""Model registry: short names -> HybridBlock classes."""
from .base import RecModel
from .mf import MatrixFactorization
from .biased import BiasedMF
from .nnmf import NonNegativeMF
from .mlp import MLPRecommender
from .svdpp import SVDpp
from .autorec import AutoRec

__all__ = ['RecModel', 'MatrixFactorization', 'BiasedMF', 'NonNegativeMF', 'MLPRecommender',
           'SVDpp', 'AutoRec',
           'get_model', 'model_class', 'model_names', 'register_model', 'model_name_of']

_REGISTRY = {
    'mf': MatrixFactorization,
    'biased_mf': BiasedMF,
    'nnmf': NonNegativeMF,
    'mlp': MLPRecommender,
    'svdpp': SVDpp,
    'autorec': AutoRec,
}


def register_model(name, cls):
    """Register ``cls`` (a ``RecModel`` subclass) under ``name``."""
    if not (isinstance(cls, type) and issubclass(cls, RecModel)):
        raise ValueError(f'{cls!r} is not a RecModel subclass')
    if name in _REGISTRY:
        raise ValueError(f'model name {name!r} is taken by {_REGISTRY[name].__name__}')
    _REGISTRY[name] = cls


def model_names():
    """The registered model names, sorted."""
    return sorted(_REGISTRY)


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
