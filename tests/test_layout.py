"""The package's layers: no module imports from a layer above its own."""
import ast
import pathlib

import gluonrec

PACKAGE = pathlib.Path(gluonrec.__file__).parent

# Lowest first. A module may import from its own component or any lower layer.
LAYERS = [
    {'_version', '_compat', '_io', 'metrics', 'ranking', 'context', 'presets'},
    {'data'},
    {'models'},
    {'recommender', 'recommend', 'similarity', 'foldin', 'blend', 'ranking_eval'},
    {'evaluation', 'distributed'},
    {'train'},
    {'persist'},
    {'recipe'},
    {'cli', 'launch', 'sklearn'},
    {'__init__'},
]
LEVEL = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _component(parts):
    """'data' for gluonrec/data/..., 'persist' for gluonrec/persist.py."""
    return parts[0].removesuffix('.py') if parts else '__init__'


def _imports(path):
    """The components a module imports from, through relative or absolute imports."""
    here = path.relative_to(PACKAGE).parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(here[:-1])[:len(here) - node.level]
            target = base + (node.module.split('.') if node.module else [])
            if target:
                found.add(target[0])
            else:  # from . import metrics
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or '').startswith('gluonrec.'):
            found.add(node.module.split('.')[1])
    return found


def test_every_component_has_a_layer():
    components = {_component(p.relative_to(PACKAGE).parts) for p in PACKAGE.rglob('*.py')}
    assert components <= set(LEVEL), components - set(LEVEL)


def test_no_import_runs_up_a_layer():
    upward = []
    for path in PACKAGE.rglob('*.py'):
        parts = path.relative_to(PACKAGE).parts
        mine = '__init__' if parts == ('__init__.py',) else _component(parts)
        for other in _imports(path):
            if other != mine and LEVEL[other] > LEVEL[mine]:
                upward.append(f'{"/".join(parts)} imports {other}')
    assert not upward, upward


def test_every_module_compiles_without_warnings():
    """An invalid escape in a docstring ('\\|' in a non-raw string) is a
    DeprecationWarning at compile time on Python 3.11 and a SyntaxWarning printed to
    stderr on 3.12, which broke the scripts' one-line error messages there."""
    import warnings
    for path in [*PACKAGE.rglob('*.py'), *(PACKAGE.parent / 'scripts').rglob('*.py')]:
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            compile(path.read_text(), str(path), 'exec')
