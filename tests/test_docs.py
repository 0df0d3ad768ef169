"""The front door stays true: the README's size and links, the documentation's API
reference complete, the data set guide's example the module the tests run."""
import importlib
import os
import re

import pytest

from conftest import REPO

DOCS = os.path.join(REPO, 'docs')


def _read(*parts):
    with open(os.path.join(REPO, *parts), encoding='utf-8') as handle:
        return handle.read()


def test_the_readme_is_a_front_door():
    readme = _read('README.md')
    assert len(readme.splitlines()) <= 250
    first = readme.index('# 1. ')
    assert readme.index('# 2. ') > first and first < readme.index('## ')  # commands first
    for target in re.findall(r'\]\(((?!https?:)[^)#]+)\)', readme):
        assert os.path.exists(os.path.join(REPO, target)), target


def test_every_page_is_in_a_table_of_contents():
    index = _read('docs', 'index.md') + _read('docs', 'examples.md')
    pages = {name[:-3] for name in os.listdir(DOCS) if name.endswith('.md')} - {'index'}
    listed = set(re.findall(r'^([a-z-/]+)$', index, re.M))
    assert pages <= listed, pages - listed
    for notebook in ('jester', 'movielens'):  # rendered from examples/ through links
        assert os.path.realpath(os.path.join(DOCS, 'notebooks', f'{notebook}.ipynb')) == \
            os.path.join(REPO, 'examples', f'{notebook}.ipynb')


def _documented_modules():
    api = _read('docs', 'api.md')
    return api, re.findall(r'^\.\. currentmodule:: (\S+)$', api, re.M)


def test_the_api_reference_lists_every_public_name():
    api, modules = _documented_modules()
    assert 'gluonrec.data' in modules and 'gluonrec.models' in modules
    missing = []
    for name in modules:
        module = importlib.import_module(name)
        section = api.split(f'.. currentmodule:: {name}\n', 1)[1].split('```', 1)[0]
        listed = set(re.findall(r'^   (\w+)$', section, re.M))
        constants = api.split(f'.. currentmodule:: {name}\n', 1)[1].split('## ', 1)[0]
        for public in module.__all__:
            if public.startswith('__'):
                continue
            if public not in listed and f'`{name}.{public}`' not in constants:
                missing.append(f'{name}.{public}')
    assert not missing, missing


def test_every_name_gluonrec_exports_is_documented_where_it_is_defined():
    import gluonrec
    api, modules = _documented_modules()
    for public in gluonrec.__all__:
        if public.startswith('__'):
            continue
        home = getattr(gluonrec, public).__module__
        assert any(home == m or home.startswith(m + '.') for m in modules), (public, home)
        assert re.search(rf'^   {public}$', api, re.M), public


def test_the_data_set_guide_shows_the_module_the_tests_run():
    guide = _read('docs', 'datasets.md')
    example = guide.split('```python\nimport os\n', 1)[1].split('```', 1)[0]
    module = _read('tests', 'toy_dataset.py')
    code = module.split('"""', 2)[2].lstrip('\n')
    assert 'import os\n' + example == code


@pytest.mark.parametrize('page', ['datasets', 'models', 'training', 'ranking', 'custom-models',
                                  'engines', 'new-users', 'sklearn', 'benchmarks',
                                  'distributed', 'guarantees', 'architecture',
                                  'getting-started'])
def test_the_pages_link_only_to_files_that_exist(page):
    text = _read('docs', f'{page}.md')
    for target in re.findall(r'\]\(((?!https?:)[^)#]+)\)', text):
        assert os.path.exists(os.path.join(DOCS, target)), (page, target)


@pytest.mark.slow
def test_the_readme_tour_runs(shared_data, tmp_path, monkeypatch, capsys):
    """The README's tour, as printed there, on the real Jester data (it trains once)."""
    readme = _read('README.md')
    code = readme.split('## A tour in code\n\n```python\n', 1)[1].split('```', 1)[0]
    monkeypatch.setenv('GLUONREC_DATA', shared_data)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, 'README.md (tour)', 'exec'), {})
    printed = capsys.readouterr().out
    assert "'refit': True" in printed and (tmp_path / 'models' / 'jester').is_dir()
    recommended = eval(printed.strip().splitlines()[-1])  # the list of (joke, rating)
    assert len(recommended) == 5 and not {7, 8, 13} & {joke for joke, _ in recommended}


def test_tests_that_start_a_process_are_left_out_of_the_quick_loop():
    """The quick loop's rule (conftest.pytest_collection_modifyitems): a test that starts
    a process, itself or through a helper of its module, is slow (this test too: it
    holds such a function)."""
    import conftest
    import test_compat
    import test_fused
    import test_scripts

    def spawner():
        import subprocess
        return subprocess.run(['true'])

    assert conftest._spawns(spawner) and not conftest._spawns(test_the_readme_is_a_front_door)
    for test in (test_scripts.test_evaluate_script,                     # run(
                 test_fused.test_no_compiler_falls_back_and_trains,     # through a helper
                 test_compat.test_import_mxnet_first_works_in_the_installed_environment):
        assert conftest._spawns(test), test.__name__
    assert not conftest._spawns(test_scripts.test_offline_without_data_the_scripts_say_what_to_do)
