"""mypy over the installed shape of the package: `python scripts/typecheck.py` (CI runs it).

mypy reads files, not import hooks, so it cannot see pyproject's package-dir mapping
(`baton.core` is core/, …). This lays the same package out in a temporary folder of symbolic
links, one per mapped part, and checks that; errors name the repository's own paths.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_dir: dict[str, str] = project["tool"]["setuptools"]["package-dir"]
    with tempfile.TemporaryDirectory(prefix="baton-typecheck-") as tree:
        for package, folder in sorted(package_dir.items()):
            place = Path(tree, *package.split("."))
            if any(other.startswith(package + ".") for other in package_dir):
                # parts are mapped inside it: a real folder, its own files linked one by one
                place.mkdir(parents=True)
                for item in (ROOT / folder).glob("*.py"):
                    (place / item.name).symlink_to(item)
            else:
                place.symlink_to(ROOT / folder, target_is_directory=True)
        result = subprocess.run(
            [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
             str(Path(tree, "baton"))],
            capture_output=True, text=True, cwd=tree)
        output = result.stdout + result.stderr
        output = output.replace(tree + os.sep, "")
        for package, folder in sorted(package_dir.items(), key=lambda item: -len(item[0])):
            output = output.replace(package.replace(".", os.sep) + os.sep, folder + os.sep)
        print(output, end="")
        return result.returncode


if __name__ == "__main__":
    sys.exit(main())
