"""Reporting for compare.py: the Markdown table and section, the time-to-RMSE plot, the
machine line. Takes result dicts ({'system', 'rmse', 'mae', 'fit_seconds',
'ratings_per_sec', 'curve': [(seconds, rmse), ...], 'note'}); runs nothing."""
import os
import platform


def time_to(curve, target):
    """Seconds at which ``curve`` first reaches ``target`` RMSE (None if never)."""
    for seconds, rmse in curve or []:
        if rmse is not None and rmse <= target:
            return seconds
    return None


def table(results, target):
    lines = ['| system | test RMSE | test MAE | fit s | ratings/s per epoch | '
             f's to RMSE {target:.4f} |' if target else
             '| system | test RMSE | test MAE | fit s | ratings/s per epoch | s to target |',
             '| --- | ---: | ---: | ---: | ---: | ---: |']
    for r in sorted(results, key=lambda r: r['rmse']):
        reach = time_to(r.get('curve'), target) if target else None
        rate = r.get('ratings_per_sec')
        lines.append(f"| {r['system']} | {r['rmse']:.4f} | {r['mae']:.4f} | "
                     f"{r['fit_seconds']:.2f} | {'' if rate is None else f'{rate:,.0f}'} | "
                     f"{'-' if reach is None else f'{reach:.2f}'} |")
    return '\n'.join(lines)


def plot(results, path, title, target):
    """A PNG of test RMSE against training seconds, written to a temporary name first."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5))
    for r in results:
        if r.get('curve'):
            xs, ys = zip(*r['curve'])
            ax.plot(xs, ys, 'o-' if len(xs) > 1 else 'o', label=r['system'], markersize=3)
    if target:
        ax.axhline(target, color='grey', linestyle=':', label='Surprise SVD best')
    ax.set_xscale('log')
    ax.set_xlabel('training seconds (log)')
    ax.set_ylabel('test RMSE (rating scale)')
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    tmp = f'{path}.tmp'
    fig.savefig(tmp, format='png', dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def machine(versions):
    """Cores, CPU model and the given package versions, as one line."""
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as info:
            cpu = next(line.split(':', 1)[1].strip() for line in info
                       if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    listed = ', '.join(f'{k} {v}' for k, v in sorted(versions.items()))
    return f'{os.cpu_count()} cores ({cpu}), python {platform.python_version()}, {listed}'


def _speed_lines(results):
    blog = next(r for r in results if r['system'].startswith('blog way'))
    fast = max((r for r in results if r['system'].startswith('gluonrec')),
               key=lambda r: r['ratings_per_sec'])
    lines = [f"Speed: fastest gluonrec run {fast['ratings_per_sec']:,.0f} ratings/s per "
             f"epoch = {fast['ratings_per_sec'] / blog['ratings_per_sec']:,.0f}x the blog "
             f"way; {blog['note']}."]
    for r in results:
        if r['system'].startswith('Surprise SVD k=16'):
            lines.append(f"Against Surprise SVD k=16: "
                         f"{fast['ratings_per_sec'] / r['ratings_per_sec']:.1f}x its ratings/s.")
    return lines


def report(results, label, header, notes, png):
    """The RESULTS.md section: header, table, accuracy and speed against Surprise SVD and
    the blog, what did not run, and the plot (written to ``png`` when given)."""
    svd = next((r for r in results if r['system'].startswith('Surprise SVD (defaults')), None)
    target = min(c[1] for c in svd.get('curve', [(0, svd['rmse'])])) if svd else None
    ours = min((r for r in results if r['system'].startswith('gluonrec')),
               key=lambda r: r['rmse'])
    lines = [f'## {label}', '', header, '', table(results, target), '']
    if svd:
        lines.append(f"Best gluonrec ({ours['system']}): RMSE {ours['rmse']:.4f} vs Surprise "
                     f"SVD {svd['rmse']:.4f} (ratio {ours['rmse'] / svd['rmse']:.3f}).")
        reach = time_to(ours.get('curve'), target)
        if reach is not None:
            lines.append(f"gluonrec reached Surprise SVD's best RMSE after {reach:.2f} s of "
                         f"training; Surprise SVD's own fit took {svd['fit_seconds']:.2f} s.")
    lines += _speed_lines(results)
    if png:
        try:
            plot(results, png, label, target)
            lines += ['', f'![test RMSE against training seconds]({os.path.basename(png)})']
        except ImportError:
            notes = notes + ['no plot: matplotlib is not installed']
    if notes:
        lines += ['', 'Not run: ' + '; '.join(notes)]
    return '\n'.join(lines)
