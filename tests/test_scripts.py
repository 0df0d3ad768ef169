"""End-to-end script runs in subprocesses, on tiny files in the real formats."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from gluonrec.data import make_synthetic

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(REPO, 'scripts')


def run(script, *args, cwd, env=None, check=True):
    environ = dict(os.environ, **(env or {}))
    environ.pop('GLUONREC_DATA', None) if env is None else None
    proc = subprocess.run([sys.executable, os.path.join(SCRIPTS, script), *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=environ, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f'{script} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}')
    return proc


@pytest.fixture(scope='module')
def tiny_jester(tmp_path_factory):
    """A Jester-format ratings file (planted structure) and a jokes file."""
    folder = tmp_path_factory.mktemp('jester')
    r = make_synthetic(300, 40, 6000, rank=2, seed=0)
    lines = [f'{u}\t\t{i}\t\t{x:.3f}' for u, i, x in zip(r.user_map.to_raw(r.user),
                                                          r.item_map.to_raw(r.item), r.rating)]
    (folder / 'jester_ratings.dat').write_text('\n'.join(lines) + '\n')
    (folder / 'jester_items.dat').write_text(
        ''.join(f'{i}:\n\n<p>Joke number {i} &amp; friends.</p>\n\n\n' for i in range(1, 41)))
    return folder


@pytest.fixture(scope='module')
def trained_jester(tiny_jester, tmp_path_factory):
    work = tmp_path_factory.mktemp('work')
    proc = run('train_jester.py', '--ratings', tiny_jester / 'jester_ratings.dat',
               '--jokes', tiny_jester / 'jester_items.dat', '--epochs', 3, '--no-progress',
               '--out', work / 'model', cwd=work)
    return work, proc


def test_train_jester_summary_and_model(trained_jester):
    work, proc = trained_jester
    assert 'Epoch 3 / 3' in proc.stdout
    assert 'Validation on the -10..10 scale' in proc.stdout
    assert 'Constant-mean baseline: RMSE' in proc.stdout
    assert 'Validation on the -10..10 scale (selection run, epoch' in proc.stdout
    refit = re.search(r'The saved model was then refit on all 6000 ratings, the validation '
                      r"part included, for (\d+) epochs \(the (\d+) chosen, times the data's "
                      r'growth\)', proc.stdout)
    assert refit and int(refit[1]) == round(int(refit[2]) * 6000 / 4800)
    assert sorted(os.listdir(work / 'model')) == ['config.json', 'history.json', 'ids.json',
                                                  'items.json', 'model.params', 'scaler.json',
                                                  'test.npz', 'train.npz']


def test_similar_items_prints_jokes(trained_jester):
    work, _ = trained_jester
    proc = run('similar_items.py', 9, '--model-dir', work / 'model', cwd=work)
    lines = proc.stdout.splitlines()
    assert lines[0] == 'Jokes making same people laugh compared to:'
    assert lines[1] == '[9] Joke number 9 & friends.'
    assert sum(line.startswith(('1. joke', '2. joke', '3. joke')) for line in lines) == 3
    data = json.loads(run('similar_items.py', 9, '-k', 5, '--json', '--model-dir',
                          work / 'model', cwd=work).stdout)
    assert len(data['similar']) == 5 and data['joke'] == 9
    scores = [s['score'] for s in data['similar']]
    assert scores == sorted(scores, reverse=True) and 9 not in [s['joke'] for s in data['similar']]


def test_evaluate_script(trained_jester, tiny_jester, tmp_path):
    work, _ = trained_jester
    refit = run('evaluate.py', '--model-dir', work / 'model', '-k', 5, '--json', cwd=work)
    assert 'was refit on all its ratings, these held-out ones included' in refit.stderr
    run('train_jester.py', '--ratings', tiny_jester / 'jester_ratings.dat', '--epochs', 3,
        '--no-progress', '--no-refit', '--out', tmp_path / 'kept', cwd=tmp_path)
    proc = run('evaluate.py', '--model-dir', tmp_path / 'kept', '-k', 5, '--json',
               cwd=tmp_path)
    assert 'refit' not in proc.stderr
    data = json.loads(proc.stdout)
    history = json.loads((tmp_path / 'kept' / 'history.json').read_text())
    assert data['rmse'] == pytest.approx(min(h['val_rmse'] for h in history), rel=1e-4)
    assert {'precision@5', 'recall@5', 'map@5', 'ndcg@5'} <= set(data)


def test_resume_continues(tiny_jester, tmp_path):
    args = ['--ratings', tiny_jester / 'jester_ratings.dat', '--no-progress', '--patience', 0,
            '--out', tmp_path / 'model']
    run('train_jester.py', *args, '--epochs', 2, cwd=tmp_path)
    proc = run('train_jester.py', *args, '--epochs', 3, '--resume', cwd=tmp_path)
    assert 'resuming from' in proc.stdout and 'Epoch 3 / 3' in proc.stdout
    assert 'Epoch 1 / 3 |' not in proc.stdout


@pytest.mark.parametrize('args, message', [
    (['--ratings', 'missing.dat'], 'missing.dat: no such file'),
    (['--epochs', '0'], 'must be >= 1'),
    (['--model', 'svd'], "invalid choice: 'svd'"),
    (['--ctx', 'gpu:7'], 'GPU 7 requested'),
    (['--val-fraction', '2'], 'strictly between 0 and 1'),
    (['--synthetic', '--engine', 'fused', '--model', 'mlp'],
     "engine='fused' cannot train here: model "),
    (['--engine', 'turbo'], "invalid choice: 'turbo'"),
    (['--synthetic', '--kvstore', 'bogus'], "argument --kvstore: invalid choice: 'bogus'"),
])
def test_train_jester_bad_input(tmp_path, args, message):
    proc = run('train_jester.py', *args, cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr and 'Traceback' not in proc.stderr


def test_train_jester_bad_line_names_file_and_line(tmp_path):
    path = tmp_path / 'bad.dat'
    path.write_text('1\t\t5\t\t0.5\n1\t\t7\t\tlol\n')
    proc = run('train_jester.py', '--ratings', path, cwd=tmp_path, check=False)
    assert proc.returncode == 2 and 'bad.dat, line 2' in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_a_closed_pipe_is_not_an_error_message(tmp_path):
    """``script | head``: the reader leaves early. Used to print "error: [Errno 32] Broken
    pipe" and exit 2; now quiet (exit 1, as Python's docs advise for EPIPE). The body
    prints more than a pipe buffer holds, so the write really fails."""
    code = ('import sys\nfrom gluonrec.cli import run_main\n'
            'def body(argv):\n    for i in range(200000): print("line", i)\n'
            'sys.exit(run_main(body, [], "demo.py"))\n')
    (tmp_path / 'demo.py').write_text(code)
    proc = subprocess.run(f'"{sys.executable}" demo.py | head -c 10; '
                          'echo " status ${PIPESTATUS[0]}"',
                          shell=True, executable='/bin/bash', capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.stdout.startswith('line 0') and proc.stdout.rstrip().endswith('status 1')
    assert proc.stderr == ''


def test_similar_items_bad_input(trained_jester):
    work, _ = trained_jester
    for args, message in ([999, 'unknown joke id'], ['9', 'no such model folder'],
                          [9, 'argument -k: must be >= 1']):
        extra = ['--model-dir', work / 'model'] if message != 'no such model folder' else \
            ['--model-dir', work / 'nothing']
        extra += ['-k', 0] if message.startswith('argument -k') else []
        proc = run('similar_items.py', args, *extra, cwd=work, check=False)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_similar_items_refuses_unrated_joke(tmp_path):
    """Jester dataset 2 never rated jokes 1-4, 6, 9, ...: their factors stay random."""
    from gluonrec.data import MinMaxScaler, RatingIter, Ratings
    from gluonrec.models import get_model
    from gluonrec.persist import save_model
    from gluonrec.train import fit
    rng = np.random.RandomState(0)
    user = np.repeat(np.arange(30), 2)
    item = np.tile([0, 2], 30)  # inner item 1 (raw joke 9) has no rating
    r = Ratings(user, item, rng.uniform(-10, 10, 60), np.arange(1, 31), [5, 9, 13],
                (-10, 10), item_names={5: 'five', 9: 'nine', 13: 'thirteen'})
    net = get_model('mf', num_users=30, num_items=3, num_factors=2)
    scaler = MinMaxScaler.from_scale(r.scale)
    fit(net, RatingIter.from_ratings(r, scaler, batch_size=16), epochs=1, ctx='cpu')
    save_model(tmp_path / 'm', net, r, scaler)
    proc = run('similar_items.py', 9, '--model-dir', tmp_path / 'm', cwd=tmp_path, check=False)
    assert proc.returncode == 2 and 'never rated in the training data' in proc.stderr
    out = run('similar_items.py', 5, '--json', '--model-dir', tmp_path / 'm', cwd=tmp_path)
    assert [s['joke'] for s in json.loads(out.stdout)['similar']] == [13]


def _ml100k(folder):
    r = make_synthetic(120, 60, 3000, rank=2, scale=(1, 5), seed=3)
    folder.mkdir()
    rows = [f'{u}\t{i}\t{int(round(x))}\t88125{n:04d}' for n, (u, i, x) in enumerate(
        zip(r.user_map.to_raw(r.user), r.item_map.to_raw(r.item), r.rating))]
    (folder / 'u.data').write_text('\n'.join(rows) + '\n')
    (folder / 'u.item').write_bytes(''.join(
        f'{i}|Movie {i} (199{i % 10})|01-Jan-1995||http://x|0|1\n' for i in range(1, 61)
    ).encode('latin-1'))
    return folder


def test_movielens_train_recommend_evaluate(tmp_path):
    data = _ml100k(tmp_path / 'ml-100k')
    proc = run('train_movielens.py', '--data', data, '--epochs', 2, '--no-progress',
               '--out', tmp_path / 'mv', cwd=tmp_path)
    assert 'Validation on the 1..5 scale' in proc.stdout
    out = run('recommend.py', 7, '--model-dir', tmp_path / 'mv', '-n', 4, cwd=tmp_path).stdout
    assert 'User 7 rated highest:' in out and 'Recommended for user 7:' in out
    data_json = json.loads(run('recommend.py', 7, '--model-dir', tmp_path / 'mv', '--json',
                               cwd=tmp_path).stdout)
    rated = {t['item'] for t in data_json['top_rated']}
    assert not rated & {r['item'] for r in data_json['recommended']}
    assert all(r['title'].startswith('Movie') for r in data_json['recommended'])
    bad = run('recommend.py', 99999, '--model-dir', tmp_path / 'mv', cwd=tmp_path, check=False)
    assert bad.returncode == 2 and 'unknown user' in bad.stderr
    fallback = run('recommend.py', 99999, '--model-dir', tmp_path / 'mv', '--fallback',
                   'popular', cwd=tmp_path)
    assert 'fallback' in fallback.stdout
    new = json.loads(run('recommend.py', '--ratings', '1:5,2:1,3:4', '--model-dir',
                         tmp_path / 'mv', '--json', cwd=tmp_path).stdout)
    assert {t['item'] for t in new['top_rated']} == {1, 2, 3}
    assert not {1, 2, 3} & {r['item'] for r in new['recommended']}
    assert len(new['recommended']) == 10
    both = run('recommend.py', 7, '--ratings', '1:5', '--model-dir', tmp_path / 'mv',
               cwd=tmp_path, check=False)
    assert both.returncode == 2 and 'not both' in both.stderr
    ev = run('evaluate.py', '--model-dir', tmp_path / 'mv', '--threshold', 4, cwd=tmp_path)
    assert 'precision@10' in ev.stdout
    ev = run('evaluate.py', '--model-dir', tmp_path / 'mv', '--threshold', 100, cwd=tmp_path,
             check=False)  # used to print nan metrics and exit 0
    assert ev.returncode == 2 and 'outside the rating scale 1..5' in ev.stderr


def test_recommend_says_when_a_user_has_rated_everything(tmp_path):
    """Every user of a full 12 x 6 matrix rated every item: say so, not an empty list."""
    rows = [f'{u}\t{i}\t{1 + (u * i) % 5}\t0' for u in range(1, 13) for i in range(1, 7)]
    (tmp_path / 'u.data').write_text('\n'.join(rows) + '\n')
    run('train_movielens.py', '--data', tmp_path / 'u.data', '--epochs', 1, '--no-progress',
        '--val-fraction', '0.1', '--out', tmp_path / 'full', cwd=tmp_path)
    from gluonrec import load_model
    rec = load_model(tmp_path / 'full')
    user = next(u for u in rec.user_map.to_raw(np.arange(rec.train.num_users))
                if len(rec.top_rated(u, n=100)) == rec.train.num_items)
    out = run('recommend.py', user, '--model-dir', tmp_path / 'full', cwd=tmp_path).stdout
    assert 'has rated every item the model knows (6); nothing is left to recommend' in out


def test_synthetic_demo_runs_offline(tmp_path):
    proc = run('train_jester.py', '--synthetic', '--epochs', 1, '--out', tmp_path / 'm',
               cwd=tmp_path)
    assert 'model saved to' in proc.stdout


@pytest.mark.parametrize('target', ['.', 'notes', 'file.txt'])
def test_out_never_replaces_what_is_not_a_model(tmp_path, target):
    """--out . or a folder of one's own files is refused before training, untouched."""
    (tmp_path / 'notes').mkdir()
    (tmp_path / 'notes' / 'draft.md').write_text('mine')
    (tmp_path / 'file.txt').write_text('mine too')
    before = sorted(str(p) for p in tmp_path.rglob('*'))
    proc = run('train_jester.py', '--synthetic', '--epochs', 1, '--out', target,
               cwd=tmp_path, check=False)
    assert proc.returncode == 2 and 'refusing to replace it' in proc.stderr
    assert 'Epoch 1' not in proc.stdout  # refused before training
    assert sorted(str(p) for p in tmp_path.rglob('*')) == before


@pytest.mark.parametrize('change, message', [
    (['--optimizer', 'sgd'], "optimizer 'adagrad', this run has 'sgd'"),
    (['--val-fraction', '0.3'], 'training data (sha256)'),
])
def test_resume_with_other_settings_is_one_clear_line(tmp_path, change, message):
    args = ['--synthetic', '--no-progress', '--out', tmp_path / 'm']
    run('train_jester.py', *args, '--epochs', 1, cwd=tmp_path)
    proc = run('train_jester.py', *args, '--epochs', 2, '--resume', *change, cwd=tmp_path,
               check=False)
    assert proc.returncode == 2 and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_a_diverging_run_exits_2_and_keeps_the_previous_model(tmp_path):
    run('train_jester.py', '--synthetic', '--epochs', 1, '--out', tmp_path / 'm',
        cwd=tmp_path)
    before = {p.name: p.read_bytes() for p in (tmp_path / 'm').iterdir()}
    proc = run('train_jester.py', '--synthetic', '--epochs', 2, '--lr', '1e6', '--out',
               tmp_path / 'm', cwd=tmp_path, check=False)
    assert proc.returncode == 2 and 'training diverged' in proc.stderr
    assert 'Traceback' not in proc.stderr
    assert {p.name: p.read_bytes() for p in (tmp_path / 'm').iterdir()} == before


def test_summary_names_the_saved_epoch_without_early_stopping(tmp_path):
    proc = run('train_jester.py', '--synthetic', '--epochs', 3, '--patience', 0, '--out',
               tmp_path / 'm', cwd=tmp_path)
    assert re.search(r'\(saved parameters of epoch 3, (the best|the last; the best was '
                     r'epoch \d with RMSE [0-9.]+)\): RMSE', proc.stdout), proc.stdout


@pytest.mark.parametrize('how', [['--engine', 'generic'], ['env']])
def test_engine_flag_and_environment(tmp_path, how):
    env = {'GLUONREC_ENGINE': 'generic'} if how == ['env'] else None
    args = [] if env else how
    proc = run('train_jester.py', '--synthetic', '--epochs', 1, *args, '--out',
               tmp_path / 'm', cwd=tmp_path, env=env)
    assert '(generic engine)' in proc.stdout


def test_help_lists_every_flag_with_defaults(tmp_path):
    out = run('train_jester.py', '--help', cwd=tmp_path).stdout
    for flag in ('--ratings', '--jokes', '--synthetic', '--model', '--num-factors', '--epochs',
                 '--batch-size', '--optimizer', '--lr', '--wd', '--ctx', '--val-fraction',
                 '--seed', '--resume', '--patience', '--out', '--engine'):
        assert flag in out
    assert 'default: biased_mf' in out
    assert '(default: None)' not in out and not re.search(r'\(default: [^)]*\) \(default', out)
    sim = run('similar_items.py', '--help', cwd=tmp_path).stdout
    assert '0-based' in sim and 'joke 10' in sim


def test_real_jester_default_run(shared_data, tmp_path):
    """The default settings on the real Jester sample, kept short with --epochs."""
    proc = run('train_jester.py', '--epochs', 4, '--no-progress', '--out', tmp_path / 'j',
               cwd=tmp_path, env={'GLUONREC_DATA': shared_data})
    rmse = float(re.search(r'Validation on .*: RMSE ([0-9.]+)', proc.stdout).group(1))
    assert rmse < 4.15  # constant mean: 5.22, bias only: about 4.34
    sim = run('similar_items.py', 9, '--model-dir', tmp_path / 'j', cwd=tmp_path).stdout
    from gluonrec.data import load_jester_jokes
    text = load_jester_jokes(os.path.join(shared_data, 'jester', 'jester_items.dat'))[9]
    assert sim.splitlines()[1] == f'[9] {text.splitlines()[0]}'


def _script(name):
    """A script imported as a module (its ``main(argv)`` runs in this process)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name[:-3], os.path.join(SCRIPTS, name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Done:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def inproc(script, *args, stdin='', check=True):
    """Run a script's ``main(argv)`` in this process (no MXNet start-up per call), with
    ``stdin`` as its standard input; returns what ``run`` does."""
    import contextlib
    import io
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = _script(script).main([str(a) for a in args])
    finally:
        sys.stdin = saved
    if check and code != 0:
        raise AssertionError(f'{script} exited {code}:\n{out.getvalue()}\n{err.getvalue()}')
    return _Done(code, out.getvalue(), err.getvalue())


def rate_here(work, *args, stdin='', check=True):
    return inproc('rate_jokes.py', '--model-dir', work / 'model', *args, stdin=stdin,
                  check=check)


def rate(work, *args, stdin='', check=True):
    proc = subprocess.run([sys.executable, os.path.join(SCRIPTS, 'rate_jokes.py'),
                           '--model-dir', str(work / 'model'), *map(str, args)],
                          input=stdin, capture_output=True, text=True, cwd=work, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f'rate_jokes.py exited {proc.returncode}:\n{proc.stdout}\n'
                             f'{proc.stderr}')
    return proc


def _asked(stdout):
    return [int(j) for j in re.findall(r'^Joke (\d+):$', stdout, flags=re.M)]


def _listed(stdout):
    return [int(j) for j in re.findall(r'^\d+\. joke (\d+) \(predicted', stdout, flags=re.M)]


def test_rate_jokes_interactive_good_bad_skip_and_end_of_input(trained_jester):
    work, _ = trained_jester
    # 10 gauge jokes; answers: 5, a word (re-asked), 99 (re-asked), then 7, skip, -3, EOF
    proc = rate(work, '-n', 4, stdin='5\nfunny\n99\n7\ns\n-3\n')
    asked = _asked(proc.stdout)
    assert len(asked) == 5  # the fifth prompt met the end of input
    assert proc.stdout.count('Please type a number from -10 to 10') == 2
    picks = _listed(proc.stdout)
    assert len(picks) == 4 and not set(picks) & {asked[0], asked[1], asked[3]}
    assert 'Joke number' in proc.stdout  # texts shown
    # the gauge set: the 10 most rated jokes of the training data
    from gluonrec import load_model
    from gluonrec.foldin import gauge_items
    assert asked == gauge_items(load_model(work / 'model'))[:5]


def test_rate_jokes_refines_with_the_recommended_jokes(trained_jester):
    work, _ = trained_jester
    first = rate_here(work, '--items', '1,2', '-n', 3, stdin='9\n-9\nn\n')
    picks = _listed(first.stdout)
    refined = rate_here(work, '--items', '1,2', '-n', 3,
                   stdin='9\n-9\ny\n' + '-10\n' * len(picks) + 'n\n')
    assert _asked(refined.stdout) == [1, 2] + picks
    second = _listed(refined.stdout)[len(picks):]
    assert len(second) == 3 and not set(second) & (set(picks) | {1, 2})


def test_rate_jokes_q_stops_and_no_ratings_is_an_error(trained_jester):
    work, _ = trained_jester
    proc = rate_here(work, stdin='q\n', check=False)
    assert proc.returncode == 2 and 'no ratings given' in proc.stderr
    proc = rate_here(work, '--items', '1,2,3', stdin='4\nq\n')
    assert _asked(proc.stdout) == [1, 2] and len(_listed(proc.stdout)) == 5


def test_rate_jokes_json_mode(trained_jester):
    work, _ = trained_jester
    out = json.loads(rate_here(work, '--ratings', '1:3.5,2:-2.1', '--json', '-n', 6).stdout)
    assert [r['joke'] for r in out['ratings']] == [1, 2]
    jokes = [r['joke'] for r in out['recommended']]
    assert len(jokes) == 6 and not {1, 2} & set(jokes)
    assert all(r['text'].startswith('Joke number') for r in out['recommended'])
    predicted = [r['predicted'] for r in out['recommended']]
    assert predicted == sorted(predicted, reverse=True) and out['saved_as'] is None


@pytest.mark.parametrize('args, message', [
    (['--ratings', '1:3.5,999:2'], "unknown item '999'"),
    (['--ratings', '1:30'], 'outside the scale [-10, 10]'),
    (['--ratings', '1:good'], "--ratings entry 1: rating 'good'"),
    (['--ratings', '1:2,1:3'], 'rated twice'),
    (['--items', '1,x'], "unknown joke 'x'"),
    (['--ratings', 'missing.csv'], "no such file 'missing.csv'"),
])
def test_rate_jokes_bad_input(trained_jester, args, message, capsys):
    work, _ = trained_jester
    code = _script('rate_jokes.py').main(['--model-dir', str(work / 'model'), *args])
    assert code == 2 and message in capsys.readouterr().err


def test_rate_jokes_file_errors_name_the_line(trained_jester, tmp_path):
    work, _ = trained_jester
    ratings = tmp_path / 'mine.csv'
    ratings.write_text('item,rating\n1,3.5\n# a comment\n2;4\n')
    proc = rate_here(work, '--ratings', ratings, check=False)
    assert proc.returncode == 2 and f'{ratings}, line 4' in proc.stderr
    ratings.write_text('item,rating\n1,3.5\n\n2\t-4\n')
    out = json.loads(rate_here(work, '--ratings', ratings, '--json').stdout)
    assert out['ratings'] == [{'joke': 1, 'rating': 3.5}, {'joke': 2, 'rating': -4.0}]


def test_save_as_makes_the_new_user_known(trained_jester, tmp_path):
    import shutil
    work, _ = trained_jester
    shutil.copytree(work / 'model', tmp_path / 'model')
    rate(tmp_path, '--ratings', '1:9,2:-9', '--save-as', 90001)
    known = run('recommend.py', 90001, '--model-dir', tmp_path / 'model', '--json',
                cwd=tmp_path)
    out = json.loads(known.stdout)
    assert {t['item'] for t in out['top_rated']} == {1, 2}
    assert not {1, 2} & {r['item'] for r in out['recommended']}
    again = rate(tmp_path, '--ratings', '1:9', '--save-as', 90001, check=False)
    assert again.returncode == 2 and 'already in the model' in again.stderr


@pytest.mark.parametrize('model', ['svdpp', 'autorec'])
def test_models_that_read_the_ratings_work_with_every_script(tmp_path, model):
    data = _ml100k(tmp_path / 'ml-100k')
    out = tmp_path / 'm'
    run('train_movielens.py', '--data', data, '--model', model, '--epochs', 2,
        '--num-factors', 8, '--no-progress', '--out', out, cwd=tmp_path)
    recs = json.loads(inproc('recommend.py', 7, '--model-dir', out, '--json').stdout)
    rated = {t['item'] for t in recs['top_rated']}
    assert len(recs['recommended']) == 10 and not rated & {r['item'] for r in recs['recommended']}
    similar = json.loads(inproc('similar_items.py', 3, '--model-dir', out, '-k', 4,
                                '--json').stdout)
    assert len(similar['similar']) == 4 and 3 not in [s['joke'] for s in similar['similar']]
    ev = json.loads(inproc('evaluate.py', '--model-dir', out, '--threshold', 4,
                           '--json').stdout)
    assert 0 < ev['rmse'] < 4 and 0 <= ev['precision@10'] <= 1  # finite, on the 1..5 scale
    # fold-in: a new user from a few ratings, then known to the saved model
    new = json.loads(inproc('recommend.py', '--ratings', '1:5,2:1', '--model-dir', out,
                            '--save-as', 5000, '--json').stdout)
    assert len(new['recommended']) == 10 and not {1, 2} & {r['item'] for r in new['recommended']}
    again = json.loads(inproc('recommend.py', 5000, '--model-dir', out, '--json').stdout)
    assert [r['item'] for r in again['recommended']] == [r['item'] for r in new['recommended']]


@pytest.mark.parametrize('out', ['', ' '])
def test_train_refuses_an_empty_out_and_keeps_the_current_folder(tiny_jester, tmp_path, out):
    """--out '' used to print "model saved to " and replace the folder the user stood in."""
    (tmp_path / 'main.py').write_text('print(1)')
    proc = run('train_jester.py', '--ratings', tiny_jester / 'jester_ratings.dat',
               '--epochs', 1, '--no-progress', '--out', out, cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith('is empty; give a folder name such as models/jester')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['main.py']


def test_ids_beyond_int64_are_unknown_ids_in_the_scripts(trained_jester):
    """recommend.py 99999999999999999999, similar_items.py and --save-as used to end in
    an OverflowError traceback."""
    work, _ = trained_jester
    huge = '99999999999999999999'
    model = ('--model-dir', work / 'model')
    bad = inproc('recommend.py', huge, *model, check=False)
    assert bad.returncode == 2 and f"unknown user '{huge}'" in bad.stderr
    bad = inproc('similar_items.py', huge, *model, check=False)
    assert bad.returncode == 2 and f"unknown joke id '{huge}'" in bad.stderr
    bad = rate_here(work, '--save-as', huge, stdin='5\n', check=False)
    assert bad.returncode == 2 and 'does not fit' in bad.stderr
    assert _asked(bad.stdout) == []  # refused before a rating was typed


def test_rate_jokes_refuses_an_unwritable_save_target_before_asking(trained_jester,
                                                                   monkeypatch):
    """A read-only model folder used to be found only after the ratings were typed."""
    import errno
    from gluonrec import cli

    def read_only(**kwargs):
        raise OSError(errno.EROFS, 'Read-only file system')
    monkeypatch.setattr(cli.tempfile, 'mkdtemp', read_only)
    work, _ = trained_jester
    bad = rate_here(work, '--save-as', 424242, stdin='5\n', check=False)
    assert bad.returncode == 2 and 'is not writable (Read-only file system)' in bad.stderr
    assert _asked(bad.stdout) == []


def test_ctrl_c_at_the_rate_jokes_prompt_exits_130_without_a_traceback(trained_jester):
    import signal
    work, _ = trained_jester
    # A pytest-xdist worker ignores SIGINT, and a child inherits that: give the script
    # the default disposition a terminal's Ctrl-C meets.
    proc = subprocess.Popen([sys.executable, os.path.join(SCRIPTS, 'rate_jokes.py'),
                             '--model-dir', str(work / 'model')], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=work,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    shown = ''
    while not shown.endswith('q to stop): '):  # the prompt is flushed without a newline
        char = proc.stdout.read(1)
        assert char, proc.stderr.read()
        shown += char
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert 'Traceback' not in err and 'rate_jokes.py: interrupted' in err


def test_ctrl_c_during_training_saves_and_exits_130(tiny_jester, tmp_path):
    """It used to exit 0, which tells a shell or a scheduler that the job succeeded."""
    import signal
    proc = subprocess.Popen([sys.executable, os.path.join(SCRIPTS, 'train_jester.py'),
                             '--ratings', str(tiny_jester / 'jester_ratings.dat'),
                             '--engine', 'generic', '--batch-size', '1', '--epochs', '500',
                             '--patience', '0', '--no-progress', '--log-interval', '100000',
                             '--out', str(tmp_path / 'model')],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, env=dict(os.environ, PYTHONUNBUFFERED='1'))
    for line in proc.stdout:  # wait for the first epoch to end
        if line.startswith('Epoch 1 /'):
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert 'Traceback' not in err and 'model saved to' in out
    assert 'Training was interrupted; --resume continues from' in out
    assert (tmp_path / 'model' / 'config.json').exists()


def test_a_plot_path_that_is_a_folder_is_refused_before_training(tiny_jester, tmp_path):
    """--plot /tmp used to exit 2 after the model was saved, naming a temporary file."""
    proc = run('train_jester.py', '--ratings', tiny_jester / 'jester_ratings.dat',
               '--epochs', 1, '--no-progress', '--out', tmp_path / 'model', '--plot',
               tmp_path, cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith(f'{tmp_path}: is a folder; give the plot a file name '
                                        'such as curves.png')
    assert 'Epoch' not in proc.stdout and not (tmp_path / 'model').exists()


def test_a_researchers_model_through_the_scripts(tmp_path):
    """--import registers a model of one's own: a --model choice to train, and its
    saved folder loads in the serving scripts (tests/custom_models.py, from its folder)."""
    data = _ml100k(tmp_path / 'ml-100k')
    tests = os.path.join(REPO, 'tests')
    out = tmp_path / 'mine'
    proc = run('train_movielens.py', '--import', 'custom_models', '--model', 'test_gmf',
               '--data', data, '--epochs', 2, '--no-progress', '--out', out, cwd=tests)
    assert 'test_gmf has no movielens preset; training with' in proc.stdout
    assert json.loads((out / 'config.json').read_text())['model'] == 'test_gmf'
    picks = run('recommend.py', 7, '--model-dir', out, '--import', 'custom_models', '--json',
                cwd=tests)
    assert len(json.loads(picks.stdout)['recommended']) == 10
    bad = run('recommend.py', 7, '--model-dir', out, cwd=tests, check=False)
    assert bad.returncode == 2 and 'import custom_models first' in bad.stderr
    bad = run('recommend.py', 7, '--model-dir', out, '--import', 'no_such_module_here',
              cwd=tests, check=False)
    assert bad.returncode == 2 and "--import no_such_module_here: No module named" in bad.stderr


def test_train_implicit_evaluate_recommend_and_fold_in(tmp_path, capsys):
    """A ranking model through the scripts: trained on the positives of a MovieLens
    folder, scored on the test part saved with it, recommending to known and new users."""
    data = _ml100k(tmp_path / 'ml-100k')
    proc = run('train_implicit.py', '--data', data, '--threshold', 3, '--model', 'ials',
               '--split', 'leave-one-out', '--epochs', 3, '--no-progress', '--out', tmp_path / 'm',
               cwd=tmp_path)
    assert 'val NDCG@10' in proc.stdout and 'positives/s' in proc.stdout
    assert 'Validation, full ranking with training positives masked' in proc.stdout
    assert 'Popularity baseline: NDCG@10' in proc.stdout
    config = json.loads((tmp_path / 'm' / 'config.json').read_text())
    assert config['model'] == 'ials' and config['extra']['held_out'] == 'test'
    scores = json.loads(inproc('evaluate.py', '--model-dir', tmp_path / 'm', '--json',
                               '--sampled', 20, '--per-user', tmp_path / 'users.csv').stdout)
    assert 0 < scores['ndcg@10'] <= 1 and scores['users'] > 0
    assert 'sampled_hr@10' in scores and 'note:' not in proc.stderr
    assert (tmp_path / 'users.csv').read_text().startswith('user,relevant,precision@10')
    out = json.loads(inproc('recommend.py', 7, '--model-dir', tmp_path / 'm', '--json').stdout)
    assert not {t['item'] for t in out['top_rated']} & {r['item'] for r in out['recommended']}
    new = json.loads(inproc('recommend.py', '--ratings', '1:1,2:1,3:1', '--model-dir',
                            tmp_path / 'm', '--json').stdout)
    assert len(new['recommended']) == 10 and not {1, 2, 3} & {
        r['item'] for r in new['recommended']}
    similar = json.loads(inproc('similar_items.py', 1, '-k', 3, '--json', '--model-dir',
                                tmp_path / 'm').stdout)
    assert len(similar['similar']) == 3 and 1 not in [s['joke'] for s in similar['similar']]
    with pytest.raises(SystemExit) as exc:
        _script('train_implicit.py').build_parser().parse_args(['--model', 'biased_mf'])
    assert exc.value.code == 2 and "invalid choice: 'biased_mf'" in capsys.readouterr().err


def test_offline_without_data_the_scripts_say_what_to_do(tmp_path, monkeypatch):
    """No data and --no-download: exit 2, and the one line names the files and folder,
    GLUONREC_DATA and --synthetic (train_jester) or --data (train_movielens)."""
    monkeypatch.setenv('GLUONREC_DATA', str(tmp_path))
    done = inproc('train_jester.py', '--no-download', '--out', tmp_path / 'm', check=False)
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip()
    for part in ('jester_ratings.dat and jester_items.dat into ' + str(tmp_path / 'jester'),
                 'GLUONREC_DATA', '--synthetic', '--ratings PATH'):
        assert part in line, (part, line)
    done = inproc('train_movielens.py', '--no-download', '--out', tmp_path / 'm', check=False)
    assert done.returncode == 2 and 'u.data and u.item into' in done.stderr
    assert '--data PATH' in done.stderr and not (tmp_path / 'm').exists()
