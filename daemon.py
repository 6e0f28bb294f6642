"""`python daemon.py ...` is `baton ...`: the entry point beside the repository's top level."""
import sys

from baton.app.cli import main

if __name__ == "__main__":
    sys.exit(main())
