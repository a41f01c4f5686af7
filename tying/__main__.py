"""``python -m tying``: the same command line as ``tying``."""
import sys

from tying.experiments.cli import main

sys.exit(main())
