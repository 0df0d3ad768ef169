"""Connecting to MXNet's parameter server and checking a model and iterator fit a job."""
import numpy as np

from .._compat import mx
from ..models import get_model, model_name_of
from ..models.base import dense_data

__all__ = ['connect', 'is_distributed', 'trainer_kvstore', 'dense_copy', 'KVSTORE_NAMES']


def is_distributed(kv):
    """True for a parameter-server kvstore object (``dist_sync`` and friends)."""
    return isinstance(kv, mx.kvstore.KVStore) and 'dist' in kv.type


#: The kvstore names MXNet 1.9 creates (``mx.kv.create``).
KVSTORE_NAMES = ('device', 'local', 'nccl', 'dist_sync', 'dist_async', 'dist_device_sync',
                 'dist_sync_device', 'dist_async_device', 'horovod', 'byteps')


def connect(kvstore):
    """``(kvstore, rank, workers)``: a 'dist_*' name connects to the parameter server
    (the ``DMLC_*`` variables set by ``python -m gluonrec.launch``); any other name or
    object is returned as it is, as rank 0 of 1 (or the object's own rank).

    Raises
    ------
    ValueError
        When there is no parameter server to reach.
    """
    if isinstance(kvstore, str) and kvstore not in KVSTORE_NAMES:
        raise ValueError(f'kvstore must be one of {KVSTORE_NAMES}, got {kvstore!r}')
    if isinstance(kvstore, str) and kvstore.startswith('dist'):
        try:
            kvstore = mx.kv.create(kvstore)
        except Exception as exc:  # MXNetError without DMLC_* variables
            raise ValueError(f'kvstore {kvstore}: cannot reach the parameter server '
                             f'({str(exc).splitlines()[0]}); start the job with '
                             'python -m gluonrec.launch') from None
    if is_distributed(kvstore):
        return kvstore, kvstore.rank, kvstore.num_workers
    return kvstore, 0, 1


def trainer_kvstore(kvstore, train_iter, net):
    """(kvstore or name, worker rank, number of workers) for ``gluon.Trainer``, after
    checking that ``net`` and ``train_iter`` can train in that job."""
    kv, rank, workers = connect(kvstore)
    if not is_distributed(kv):
        return kv, 0, 1
    if getattr(net, 'sparse_grad', False) and not getattr(net, 'row_sparse_weights', False):
        # MXNet's servers cannot apply row_sparse gradients to densely stored weights.
        raise ValueError('parameter-server training with sparse gradients needs the model '
                         'built with row_sparse_weights=True (rows travel both ways), or '
                         'sparse_grad=False')
    parts = getattr(train_iter, 'num_parts', None)
    if parts is not None and (parts != workers or train_iter.part_index != rank):
        raise ValueError(f'kvstore {kv.type} has {workers} workers and this is rank '
                         f'{rank}, but the iterator reads part {train_iter.part_index} of '
                         f'{parts}: build it with num_parts=kv.num_workers, part_index=kv.rank')
    return kv, rank, workers


def dense_copy(net):
    """``net`` itself, or for a model with row_sparse tables an equal dense twin, so a
    saved model always loads and predicts without a parameter server."""
    if not getattr(net, 'row_sparse_weights', False):
        return net
    twin = get_model(model_name_of(net), **dict(net.config, row_sparse_weights=False))
    ctx = mx.cpu()
    twin.initialize(ctx=ctx)
    zeros = mx.nd.zeros((1,), ctx=ctx, dtype=np.int32)
    twin(zeros, zeros)  # complete deferred shapes (Dense layers)
    target = twin._collect_params_with_prefix()
    for name, param in net._collect_params_with_prefix().items():
        target[name].set_data(dense_data(param, param.list_ctx()[0]).as_in_context(ctx))
    return twin
