"""``python -m gluonrec.launch``: the documented entry point of the job launcher, which
lives in ``gluonrec.distributed.launch``."""
import sys

from .distributed.launch import main

if __name__ == '__main__':
    sys.exit(main())
