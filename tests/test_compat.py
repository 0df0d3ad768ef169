import subprocess
import sys

import numpy as np


def test_numpy_aliases_restored_for_mxnet():
    import gluonrec  # noqa: F401
    assert np.bool is bool and np.object is object
    import mxnet as mx
    assert mx.nd.ones((2,)).sum().asscalar() == 2


def test_import_without_mxnet_names_what_to_install():
    code = ("import sys; sys.modules['mxnet'] = None\n"
            "try:\n    import gluonrec\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert len(out.splitlines()) == 1
    assert 'pip install mxnet==1.9.1' in out and 'mxnet-cu' in out
