"""Parameter-server training: kvstore set-up (``kvstore``) and the job launcher (``launch``).

The other pieces of a distributed job live where their concept does: row_sparse
embedding tables in ``gluonrec.models.base`` (a layer), and the iterator's shards in
``RatingIter(num_parts=, part_index=)`` (reading a part of the data).
"""
from .kvstore import connect, dense_copy, is_distributed, trainer_kvstore

__all__ = ['connect', 'dense_copy', 'is_distributed', 'trainer_kvstore']
