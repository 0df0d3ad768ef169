"""RESULTS.md: one section per benchmark run, replaced in place on each rerun."""
import os

from gluonrec._io import write_text


def publish(text, path, key, write=True):
    """Print a benchmark's section and, unless ``write`` is off, put it into RESULTS.md."""
    print(text)
    if write:
        update_results(path, key, text)


def update_results(path, key, section):
    """Replace this data set's section of RESULTS.md, keeping the others."""
    begin, end = f'<!-- results:{key} -->', f'<!-- /results:{key} -->'
    text = open(path).read() if os.path.isfile(path) else RESULTS_HEADER
    block = f'{begin}\n{section}\n{end}'
    if begin in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip('\n') + '\n\n' + block + '\n'
    write_text(path, text)


RESULTS_HEADER = """# Benchmark results

Regenerate a section with `python scripts/benchmarks/compare.py --data NAME`
(`jester`, `ml-100k`, `synthetic`, or a path; data from `$GLUONREC_DATA`, default
`../shared/data`). Install what it needs with `pip install -e '.[cpu,bench]'`; the
PyTorch baseline runs in its own environment:
`python3 -m venv .venv-torch && .venv-torch/bin/pip install torch==2.13.0 numpy`, then
`--torch-python .venv-torch/bin/python`.

Protocol: one seeded (seed 0) 80/20 random split per data set; every system trains on the
same 80% and is scored on the same 20%; RMSE and MAE on the original rating scale with
predictions clipped to it. Each gluonrec model is what `train_model` returns by
default: its preset (chosen on the 80% by cross-validation or a validation slice,
never on the 20%: `gluonrec/presets.py`), the number of epochs chosen by early
stopping on 20% of the 80%, then a refit on all of the 80% for that number times
the data's growth (1.25). "s to RMSE x": training seconds until the test RMSE
first reached the best RMSE of Surprise SVD with its defaults (per-epoch curves;
gluonrec's: the selection run's seconds, then the refit's epochs; Surprise SVD's own
curve comes from separate fits with 1, 2, 5, 10 and 20 epochs). All timings are from
one run of the script on the machine named, a shared 2-core machine, so compare ratios
within a section, not across sections.
"""
