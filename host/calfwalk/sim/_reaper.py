"""Runs one child (the pod on the MicroPython unix port) and takes it and its folder along when it goes.

usage: python _reaper.py PARENT_PID FOLDER COMMAND...

Started by podsim.PodProcess as a plain script (no package import: it starts fast).
Whatever ends this process's parent, SIGKILL included, the kernel sends this process
SIGTERM (PR_SET_PDEATHSIG, Linux); it then kills the child and removes FOLDER (the
pod's flash). The child gets SIGKILL should this process itself be killed outright.
Elsewhere the child runs in this process's session and PodProcess.close() ends both.
"""

import os
import shutil
import signal
import subprocess
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(sig):
    """A preexec_fn asking the kernel for `sig` when the parent goes (Linux); None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork
    except (OSError, AttributeError):
        return None
    return lambda: prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def main(argv):
    parent, folder, cmd = int(argv[1]), argv[2], argv[3:]
    child = None

    def finish(code):
        # plain os calls: this may run in a signal handler that interrupted child.wait()
        if child is not None:
            try:
                os.kill(child.pid, signal.SIGKILL)
                os.waitpid(child.pid, 0)
            except (ProcessLookupError, ChildProcessError):  # already gone, or already reaped
                pass
        shutil.rmtree(folder, ignore_errors=True)
        os._exit(code)

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: finish(128 + signum))
    if os.getppid() != parent:  # the parent died before PR_SET_PDEATHSIG took hold
        finish(143)
    child = subprocess.Popen(cmd, preexec_fn=die_with_parent(signal.SIGKILL))
    code = child.wait()
    child = None  # reaped: its pid may be reused
    finish(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main(sys.argv)
