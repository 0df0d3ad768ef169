"""Parameter-server training: kvstore set-up (``kvstore``) and the job launcher (``launch``).

In a job started by ``python -m gluonrec.launch``, ``fit(kvstore='dist_sync')`` (or
``dist_async``, ``dist_device_sync``) sums the gradients of the global batch on the
servers. Each worker reads its shard (``RatingIter(num_parts=kv.num_workers,
part_index=kv.rank)``; ``train_model`` builds it so) with batch = global batch /
workers; every worker validates, so all take the same early-stopping decision, but only
rank 0 logs epochs and writes checkpoints; ``resume`` is refused, since the optimizer
state lives on the servers. Sparse gradients need row_sparse tables
(``row_sparse_weights=True``); a constrained model (nnmf) trains dense and updates on
the workers, where its projection can act.

The other pieces of a distributed job live where their concept does: row_sparse
embedding tables in ``gluonrec.models.base`` (a layer), and the iterator's shards in
``RatingIter(num_parts=, part_index=)`` (reading a part of the data).
"""
from .kvstore import KVSTORE_NAMES, connect, dense_copy, is_distributed, trainer_kvstore

__all__ = ['KVSTORE_NAMES', 'connect', 'dense_copy', 'is_distributed', 'trainer_kvstore']
