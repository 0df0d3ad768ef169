"""History: one record per epoch, written as CSV or JSON, and plotted."""
import csv
import io
import json
import os

from .._io import atomic_path, write_text
from .callbacks import score_label

__all__ = ['History', 'plot_history', 'check_plot_path', 'higher_is_better']


class History(list):
    """One dict per epoch (epoch, train_loss, val_rmse, val_mae, seconds, ...).

    ``params_epoch``: set by ``fit``, the epoch whose parameters the model holds when it
    returns (the best one when early stopping restored it, else the last), or None when
    training stopped in the middle of an epoch. ``interrupted``: set by ``fit``, True
    when a Ctrl-C ended training. ``settings``: set by ``fit``, what it trained with
    (optimizer, learning_rate, wd, reg, loss, epochs), which
    ``Recommender.from_training`` keeps (fold-in's ``reg=None`` and ``'auto'`` read
    the reg from it).
    """

    params_epoch = None
    interrupted = False
    settings = None
    #: (key, 'min' or 'max'): what ``fit`` validated on, set by ``fit``; None for a
    #: history read back from JSON, whose ``best`` then finds the key in its records.
    monitor = None

    def to_json(self, path=None):
        text = json.dumps(list(self), indent=2)
        if path:
            write_text(path, text + '\n')
        return text

    def to_csv(self, path=None):
        keys = []
        for record in self:
            keys.extend(k for k in record if k not in keys)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator='\n')
        writer.writeheader()
        writer.writerows(self)
        if path:
            write_text(path, buffer.getvalue())
        return buffer.getvalue()

    def monitored(self):
        """The validation key this history is judged by: what ``fit`` monitored, else
        the NDCG its records hold (a ranking model's), else 'val_rmse'."""
        if self.monitor:
            return self.monitor[0]
        return next((k for r in self for k in r if k.startswith('val_ndcg@')), 'val_rmse')

    def best(self, key=None):
        """The best record by ``key`` (None when no record has it): the lowest for an
        error ('val_rmse', 'val_mae'), the highest for a ranking score ('val_ndcg@10',
        ...). Default: what ``fit`` monitored, else 'val_rmse' or the NDCG the records
        hold."""
        key = key or self.monitored()
        scored = [r for r in self if r.get(key) is not None]
        if not scored:
            return None
        return (max if higher_is_better(key) else min)(scored, key=lambda r: r[key])


def higher_is_better(key):
    """True for the scores that grow with quality (ranking metrics), False for errors
    and losses."""
    name = key.split('@')[0].replace('val_', '')
    return name in ('ndcg', 'recall', 'precision', 'map', 'hit', 'mrr')


def check_plot_path(path):
    """Raise ``ValueError`` (naming ``path``) unless ``plot_history`` can write a PNG
    there: matplotlib is installed and ``path`` is not a folder."""
    if os.path.isdir(path):
        raise ValueError(f'{path}: is a folder; give the plot a file name such as '
                         'curves.png')
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ValueError(f'{path}: plotting needs matplotlib: pip install matplotlib') \
            from None


def plot_history(history, path, title=None):
    """Write a PNG of train loss and validation RMSE (or NDCG@k, for a ranking model) per
    epoch (needs matplotlib)."""
    check_plot_path(path)
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError('plot_history needs matplotlib: pip install matplotlib') from None
    epochs = [r['epoch'] for r in history]
    fig, left = plt.subplots(figsize=(7, 4))
    left.plot(epochs, [r['train_loss'] for r in history], 'o-', color='tab:blue',
              label='train loss (scaled)')
    left.set_xlabel('epoch')
    left.set_ylabel('train loss (mean per rating, scaled units)')
    key = (history if isinstance(history, History) else History(history)).monitored()
    if any(r.get(key) is not None for r in history):
        label = score_label(key).replace('val ', 'validation ', 1)
        right = left.twinx()
        right.plot(epochs, [r.get(key) for r in history], 's-', color='tab:red',
                   label=label)
        right.set_ylabel(label + (' (rating scale)' if key == 'val_rmse' else ''))
        fig.legend(loc='upper right')
    left.set_title(title or 'gluonrec training')
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format='png', dpi=100)
    plt.close(fig)
