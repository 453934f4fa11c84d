"""``python -m cloud``: the same as ``tablemesh cloud``."""

import sys

from cloud.main import run

sys.exit(run())
