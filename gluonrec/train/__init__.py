"""Training: ``fit`` and its parts, one concept per module.

- ``loop``: ``fit``, the loop (resume, epoch, end of epoch, callbacks);
- ``engine``: what one update does (``GenericEngine``: autograd + ``gluon.Trainer``);
- ``objective``: per-rating error plus the L2 penalty, as one hybridizable block;
- ``callbacks``: early stopping, best parameters, progress bar, log lines;
- ``checkpoint``: parameters, optimizer state and loop position on disk;
- ``history``: per-epoch records, CSV/JSON, plot.

Device selection lives in ``gluonrec.context`` and evaluation in ``gluonrec.evaluation``
(both also serve code that does not train); they are re-exported here.
"""
from ..context import resolve_ctx
from ..evaluation import evaluate, predict_iter
from .callbacks import EarlyStopping
from .checkpoint import CHECKPOINT_FILE
from .history import History, check_plot_path, plot_history
from .loop import fit

__all__ = ['fit', 'evaluate', 'predict_iter', 'resolve_ctx', 'History', 'EarlyStopping',
           'plot_history', 'check_plot_path', 'CHECKPOINT_FILE']
