"""Send a step's logging, warnings and uncaught errors to its Snakemake log file."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from typing import Iterator

log = logging.getLogger("saepipe")


class StepError(Exception):
    """An error whose message says all a user needs (the file, what is wrong, what to do): the
    step logs it as one line and exits, with no traceback."""


def _raise_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(f"stopped by signal {signal.Signals(signum).name}")


@contextlib.contextmanager
def logged_step(log_path: str | os.PathLike) -> Iterator[logging.Logger]:
    """Log to `log_path` (and stderr); an exception is written there as one clear line, then re-raised.

    The step's stderr (TensorFlow's chatter included) is appended to the same file.
    """
    os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    handler = logging.FileHandler(log_path, mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    root.addHandler(console)
    logging.captureWarnings(True)
    # SLURM (at a time limit) and `kill` send SIGTERM: turn it into an exception, so temporary
    # files are removed on the way out as they are on an error or Ctrl-C.
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
        root.removeHandler(handler)
        root.removeHandler(console)
        handler.close()
