"""``python -m gpunet``: see :mod:`gpunet.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
