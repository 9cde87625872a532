"""Stopping a checkpointed run cleanly: the first Ctrl-C (SIGINT) or SIGTERM lets the training step under way
finish, so the checkpoint written then continues the run exactly where it stopped (during validation, the validation
batch under way: the resumed run validates that epoch again, with no step trained twice); a second one stops at once.

Without this a signal lands anywhere (SIGTERM ends the process outright) and a resumed run starts from the last
periodic checkpoint, up to ``checkpoint_minutes`` of training earlier. Outside those steps (loading data, scoring the
kept weights) ``sigterm_raises`` turns SIGTERM into an exception, so ``finally`` blocks run and the CLI says what
stopped it instead of the process vanishing.
"""

import signal
import threading
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A run stopped by signal ``signum`` after writing its checkpoint (``path``), from which it continues."""

    def __init__(self, message: str, path, signum: int):
        super().__init__(message)
        self.path = path
        self.signum = signum


class Terminated(BaseException):
    """SIGTERM arrived outside a deferred stop (``sigterm_raises``), or a second one inside it: raised wherever the
    process was. Not a KeyboardInterrupt, which libraries (Lightning) catch and turn into an exit of their own."""

    signum = signal.SIGTERM


class StopRequest:
    """Truthy once a stop signal arrived (``signum``; ``name``: which one)."""

    def __init__(self):
        self.signum: int | None = None

    @property
    def name(self) -> str | None:
        return None if self.signum is None else signal.Signals(self.signum).name

    def __bool__(self) -> bool:
        return self.signum is not None

    def interrupted(self, where: str, checkpoint) -> Interrupted:
        """The exception that ends a run stopped ``where`` (e.g. "after epoch 2") with ``checkpoint`` written."""
        return Interrupted(f"stopped by {self.name} {where}, its checkpoint written ({checkpoint})", checkpoint,
                           self.signum)


@contextmanager
def deferred_stop(log):
    """While active, SIGINT and SIGTERM set the yielded ``StopRequest`` instead of stopping the process; the caller
    checks it after each step. A second signal restores the previous handlers and raises at once (KeyboardInterrupt,
    or Terminated for SIGTERM). A signal the process ignores (a background job's SIGINT) stays ignored. Outside the
    main thread (where Python cannot set handlers) the request never fires and signals act as before."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}  # None: set outside Python, restored as the default
    previous = {s: h for s, h in previous.items() if h is not signal.SIG_IGN}

    def restore():
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)

    def on_signal(signum, frame):
        if request:
            restore()
            raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        request.signum = signum
        try:
            log(f"{request.name}: stopping after this step to write the checkpoint (again to stop at once)")
        except RuntimeError:  # a reentrant write to the stream the signal interrupted
            pass

    for s in previous:
        signal.signal(s, on_signal)
    try:
        yield request
    finally:
        restore()


@contextmanager
def sigterm_raises():
    """While active, SIGTERM raises ``Terminated`` where the process is, like Ctrl-C's KeyboardInterrupt, instead of
    Python's default of ending the process with no ``finally`` run and nothing said (a scheduler's or a session's
    SIGTERM during the scoring after training, say). ``deferred_stop`` takes precedence inside it. A handler set by
    someone else, or SIGTERM ignored, is left alone, as is any thread but the main one. Not for a rank of a
    data-parallel run: one waiting in a collective for a peer that has gone would not get back to Python to raise,
    and torchrun's SIGTERM-then-SIGKILL shutdown needs it to end at once (the CLI leaves ``--ddp`` out)."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return

    def on_sigterm(signum, frame):
        raise Terminated

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
