"""Every command starts by importing sparsecast: what it pulls in at import time, every user waits for."""

import subprocess
import sys


def test_importing_the_command_line_leaves_the_compiler_and_plotting_unloaded():
    # torch._dynamo (about two seconds) loads when a FlexAttention mask is first built, matplotlib (half a second)
    # at the first plot; neither when a command starts
    code = ("import sys, sparsecast.cli; "
            "print(sorted(m for m in ('torch._dynamo', 'matplotlib.pyplot') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
