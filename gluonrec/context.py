"""Device selection: context specs ('auto', 'cpu', 'gpu:0,1') to ``mx.Context`` lists."""
from ._compat import mx

__all__ = ['resolve_ctx', 'net_ctx']


def _parse_gpus(spec, original):
    try:
        ids = [int(part) for part in spec[4:].split(',') if part.strip()]
    except ValueError:
        raise ValueError(f"bad ctx {original!r}: expected 'gpu:0' or 'gpu:0,1'") from None
    if not ids or len(set(ids)) != len(ids):
        raise ValueError(f'bad ctx {original!r}: list each GPU id once')
    return [mx.gpu(i) for i in ids]


def _from_string(ctx):
    spec = ctx.strip().lower()
    if spec == 'auto':
        return [mx.gpu(0)] if mx.context.num_gpus() > 0 else [mx.cpu()]
    if spec == 'cpu':
        return [mx.cpu()]
    if spec == 'gpu':
        return [mx.gpu(0)]
    if spec.startswith('gpu:'):
        return _parse_gpus(spec, ctx)
    raise ValueError(f"bad ctx {ctx!r}: use 'auto', 'cpu', 'gpu' or 'gpu:0,1'")


def resolve_ctx(ctx='auto'):
    """Turn a context spec into a list of ``mx.Context``.

    Parameters
    ----------
    ctx : str, mx.Context or list of mx.Context
        'auto' (the first GPU when ``mx.context.num_gpus() > 0``, else the CPU), 'cpu',
        'gpu' (GPU 0), 'gpu:0,1' (those GPUs), a context, or a list of contexts.

    Returns
    -------
    list of mx.Context

    Raises
    ------
    ValueError
        For a malformed spec or a GPU this machine does not have.
    """
    if isinstance(ctx, mx.Context):
        ctxs = [ctx]
    elif isinstance(ctx, (list, tuple)):
        ctxs = list(ctx)
        if not ctxs or not all(isinstance(c, mx.Context) for c in ctxs):
            raise ValueError(f'ctx list must hold mx.Context objects, got {ctx!r}')
    elif isinstance(ctx, str):
        ctxs = _from_string(ctx)
    else:
        raise ValueError(f'bad ctx {ctx!r}')
    gpus = [c.device_id for c in ctxs if c.device_type == 'gpu']
    if gpus:
        available = mx.context.num_gpus()
        missing = [i for i in gpus if i >= available]
        if missing:
            raise ValueError(f'GPU {missing[0]} requested but this machine has {available} '
                             'GPU(s) visible to MXNet (is an mxnet-cuXXX build installed '
                             "and CUDA_VISIBLE_DEVICES set?); use ctx='cpu' or 'auto'")
    return ctxs


def net_ctx(net):
    """The context of ``net``'s first initialised parameter (the CPU when none is)."""
    for param in net.collect_params().values():
        try:
            return param.list_ctx()[0]
        except RuntimeError:
            continue
    return mx.cpu()
