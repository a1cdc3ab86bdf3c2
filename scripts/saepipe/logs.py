"""Send a step's logging, warnings and uncaught errors to its Snakemake log file."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import sys
import threading
from typing import Iterator

log = logging.getLogger("saepipe")


class StepError(Exception):
    """An error whose message says all a user needs (the file, what is wrong, what to do): the
    step logs it as one line and exits, with no traceback."""


# Set once a SIGTERM has reached the step, and once the step has ended.
_sigterm_received, _step_ended = threading.Event(), threading.Event()


def _raise_on_sigterm(signum: int, frame: object) -> None:
    if not _sigterm_received.is_set():
        _sigterm_received.set()
        threading.Thread(target=_repeat_sigterm, args=(signum,), daemon=True).start()
    raise SystemExit(f"stopped by signal {signal.Signals(signum).name}")


def _repeat_sigterm(signum: int, every: float = 1.0) -> None:
    """Raise the signal's exception in the main thread again each `every` seconds until the step
    has ended: the exception lands wherever the main thread is, a library's bare `except:` there
    (Keras and TensorFlow have some) swallows it, and the step would otherwise run on to its end."""
    while not _step_ended.wait(every):
        signal.pthread_kill(threading.main_thread().ident, signum)  # a real signal: it ends a sleep too


@contextlib.contextmanager
def native_stderr_to(log_path: str | os.PathLike) -> Iterator[io.TextIOWrapper]:
    """While the block runs, what the process writes to its stderr (file descriptor 2: the C++
    core of TensorFlow writes there directly) is appended to `log_path`; yields a stream on the
    real stderr, for what should still reach the console."""
    sys.stderr.flush()
    real = os.dup(2)
    target = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.dup2(target, 2)
    os.close(target)
    console = os.fdopen(os.dup(real), "w", buffering=1)
    try:
        yield console
    finally:
        sys.stderr.flush()
        console.close()
        os.dup2(real, 2)
        os.close(real)


@contextlib.contextmanager
def logged_step(log_path: str | os.PathLike, native_stderr_to_log: bool = False) -> Iterator[logging.Logger]:
    """Log to `log_path` (and stderr); an exception is written there as one clear line, then re-raised.

    With `native_stderr_to_log` (the TensorFlow steps), what native code prints to stderr goes to
    the log file only: TensorFlow's C++ core prints CUDA probing ('failed call to cuInit' on a
    machine without a GPU), CPU instruction and oneDNN notes and graph warnings, and on a console
    a user reads "E0000 ... error" and thinks the run broke, though nothing is wrong. The step's
    own lines still reach the console.
    """
    os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    open(log_path, "w").close()
    # Appending, so that its lines and TensorFlow's, written to the same file, never overwrite
    # one another.
    handler = logging.FileHandler(log_path, mode="a")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    with contextlib.ExitStack() as stack:
        stream = stack.enter_context(native_stderr_to(log_path)) if native_stderr_to_log else sys.stderr
        console = logging.StreamHandler(stream)
        console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.setLevel(logging.INFO)
        root.addHandler(handler)
        root.addHandler(console)
        logging.captureWarnings(True)
        # SLURM (at a time limit) and `kill` send SIGTERM: turn it into an exception, so temporary
        # files are removed on the way out as they are on an error or Ctrl-C.
        _sigterm_received.clear()
        _step_ended.clear()
        signal.signal(signal.SIGTERM, _raise_on_sigterm)
        try:
            yield log
        except StepError as err:
            log.error("%s: %s", type(err).__name__, err)
            raise SystemExit(1) from None
        except Exception as err:
            log.error("%s: %s", type(err).__name__, err)
            raise
        except (KeyboardInterrupt, SystemExit) as err:
            log.error("interrupted (%s); a rerun resumes or restarts this step", err or "SIGINT")
            raise
        finally:
            _step_ended.set()
            root.removeHandler(handler)
            root.removeHandler(console)
            handler.close()
