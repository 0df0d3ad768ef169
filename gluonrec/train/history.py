"""History: one record per epoch, written as CSV or JSON, and plotted."""
import csv
import io
import json
import os

from .._io import atomic_path, write_text

__all__ = ['History', 'plot_history', 'check_plot_path']


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

    def best(self, key='val_rmse'):
        """The record with the lowest ``key`` (None when no record has it)."""
        scored = [r for r in self if r.get(key) is not None]
        return min(scored, key=lambda r: r[key]) if scored else None


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
    """Write a PNG of train loss and validation RMSE per epoch (needs matplotlib)."""
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
    if any(r.get('val_rmse') is not None for r in history):
        right = left.twinx()
        right.plot(epochs, [r.get('val_rmse') for r in history], 's-', color='tab:red',
                   label='validation RMSE')
        right.set_ylabel('validation RMSE (rating scale)')
        fig.legend(loc='upper right')
    left.set_title(title or 'gluonrec training')
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format='png', dpi=100)
    plt.close(fig)
