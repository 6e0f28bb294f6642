"""`python -m baton ...` is `baton ...`."""
import sys

from baton.app.cli import main

sys.exit(main())
