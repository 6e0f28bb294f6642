"""Run a command and write its rusage as JSON to a file; started as `python -S -E` so it is tiny.

Linux reports ru_maxrss of an exec'd child as at least the size of the process it was forked
from, so measuring a tap straight from the benchmark driver would show the driver's memory. This
wrapper imports only `os`, `sys` and `json`: the floor it leaves is a few MB.

    python -S -E benchmarks/rusage_child.py OUT.json -- COMMAND ARGS...
"""
import json
import os
import sys


def main() -> int:
    out, command = sys.argv[1], sys.argv[3:]
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    with open(out, "w") as handle:
        json.dump({"returncode": code, "cpu_s": usage.ru_utime + usage.ru_stime,
                   "maxrss_kb": usage.ru_maxrss}, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
