"""``python -m mesh`` is ``tablemesh``."""

from mesh.cli import main

main()
