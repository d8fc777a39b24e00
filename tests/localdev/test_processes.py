"""The stack's children never outlive it: an orderly stop ends them, and so does the stack being killed outright
(their parent-death signal), which would otherwise leave workers that take the next stack's messages."""

import os
import signal
import subprocess
import sys
import textwrap

import psutil
import pytest

from tests.helpers.polling import wait_until

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")

# A stand-in stack: starts one long-lived child through ProcessGroup, prints its pid, then waits to be killed.
STACK = textwrap.dedent(
    """
    import sys, time
    from localdev.processes import ProcessGroup
    group = ProcessGroup()
    child = group.python("sleeper", ["-c", "import time; time.sleep(120)"], env={})
    print(child.pid, flush=True)
    time.sleep(120)
    """
)


def test_a_child_dies_when_the_stack_is_killed_outright():
    stack = subprocess.Popen([sys.executable, "-c", STACK], stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    child_pid = int(stack.stdout.readline())
    child = psutil.Process(child_pid)
    assert child.is_running()

    stack.send_signal(signal.SIGKILL)
    stack.wait()

    def gone() -> bool:
        try:
            return child.status() == psutil.STATUS_ZOMBIE or not child.is_running()
        except psutil.NoSuchProcess:
            return True

    wait_until(gone, timeout=10, message="the stack's child to die with it")
