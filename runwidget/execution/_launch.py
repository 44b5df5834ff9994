"""Start a supervisor detached from the calling process, print its pid, exit.

Run by path, not as a module, with the standard library only (it must start in a few
milliseconds)::

    python -I -S _launch.py LOG_FILE WORKING_DIR COMMAND...

The supervisor runs in a new session (so a kernel restart, which signals the kernel's
process group, does not reach it) and, once this launcher has exited, is no child of the
caller (so the caller never holds a zombie of it, and it outlives the caller).
"""

import os
import sys

# Run by path, this file's folder may be sys.path[0]; nothing must be imported from there.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import subprocess  # noqa: E402


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        sys.stderr.write("usage: _launch.py LOG_FILE WORKING_DIR COMMAND...\n")
        return 2
    log_file, cwd, command = argv[0], argv[1], argv[2:]
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )
    sys.stdout.write(f"{process.pid}\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    # No interpreter teardown: it would wait on, or warn about, the still-running child.
    os._exit(code)
