"""Fetch a dataset's raw files from a list of mirrors, verifying each by MD5.

A mirror is an http(s) URL, a file:// URL or a plain folder. Mirrors are tried in order; a
mirror that fails for one file is not tried again for the next, so a dead network costs one
timeout, not one per file.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .atomic import atomic_path
from .idx import ChecksumError, verify_md5

log = logging.getLogger(__name__)


class DownloadError(RuntimeError):
    """No mirror could deliver a file; the message lists every mirror tried and why it failed."""


@dataclass(frozen=True)
class RemoteFile:
    name: str
    md5: str


def is_url(mirror: str) -> bool:
    return urllib.parse.urlparse(mirror).scheme in ("http", "https", "file")


def resolve_mirror(mirror: str, base_dir: str | os.PathLike) -> str:
    """URLs stay as they are; a relative folder is taken relative to `base_dir`."""
    if is_url(mirror):
        return mirror.rstrip("/") + "/"
    folder = Path(mirror).expanduser()
    return str(folder if folder.is_absolute() else Path(base_dir) / folder)


def _copy_from(mirror: str, name: str, dest: Path, timeout: float) -> None:
    """Copy one file from a mirror into `dest`; raise OSError (or a subclass) on failure."""
    if not is_url(mirror):
        source = Path(mirror) / name
        if not source.is_file():
            raise FileNotFoundError(f"no file {source}")
        shutil.copyfile(source, dest)
        return
    url = urllib.parse.urljoin(mirror, urllib.parse.quote(name))
    request = urllib.request.Request(url, headers={"User-Agent": "mnist-sae-pipeline"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out, length=1 << 20)


def _is_permanent(err: Exception) -> bool:
    """Client errors (404, 403, ...) and missing local files will not go away on a retry."""
    if isinstance(err, urllib.error.HTTPError):
        return err.code < 500
    return isinstance(err, FileNotFoundError)


def _describe(err: Exception) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        return f"{type(err.reason).__name__}: {err.reason}"
    return f"{type(err).__name__}: {err}"


def fetch_file(
    remote: RemoteFile,
    mirror: str,
    dest_dir: Path,
    *, timeout: float,
    retries: int,
    retry_wait: float = 1.0,
) -> Path:
    """Fetch one file from one mirror, with retries; it appears under its name only if its MD5 matches."""
    final = dest_dir / remote.name
    attempts = 1 + retries
    for attempt in range(1, attempts + 1):
        try:
            with atomic_path(final) as tmp:
                _copy_from(mirror, remote.name, tmp, timeout)
                verify_md5(tmp, remote.md5, name=remote.name, source=mirror)
            return final
        except ChecksumError:
            raise
        except (OSError, ValueError) as err:
            if _is_permanent(err) or attempt == attempts:
                raise
            log.warning("%s from %s: attempt %d/%d failed (%s); retrying",
                        remote.name, mirror, attempt, attempts, _describe(err))
            time.sleep(retry_wait * attempt)
    raise AssertionError("unreachable")


def fetch_dataset(
    files: list[RemoteFile],
    mirrors: list[str],
    dest_dir: str | os.PathLike,
    *, timeout: float,
    retries: int,
    base_dir: str | os.PathLike = ".",
    retry_wait: float = 1.0,
) -> dict[str, str]:
    """Fetch every file into `dest_dir`; return file name -> mirror that served it.

    On failure, the files fetched by this call are removed again and DownloadError names every
    mirror tried for the file that could not be had, with the reason each failed.
    """
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    resolved = [resolve_mirror(m, base_dir) for m in mirrors]
    failed: dict[str, str] = {}  # mirror -> why it failed (for an earlier file or this one)
    served: dict[str, str] = {}
    try:
        for remote in files:
            served[remote.name] = _fetch_from_first_good(
                remote, resolved, failed, dest, timeout, retries, retry_wait
            )
    except DownloadError:
        for name in served:
            (dest / name).unlink(missing_ok=True)
        raise
    return served


def _fetch_from_first_good(
    remote: RemoteFile,
    mirrors: list[str],
    failed: dict[str, str],
    dest: Path,
    timeout: float,
    retries: int,
    retry_wait: float,
) -> str:
    for position, mirror in enumerate(mirrors):
        if mirror in failed:
            continue
        if position > 0 and not is_url(mirror):
            log.info("%s: earlier mirrors failed; falling back to the local copy in %s",
                     remote.name, mirror)
        started = time.monotonic()
        try:
            path = fetch_file(remote, mirror, dest, timeout=timeout, retries=retries, retry_wait=retry_wait)
        except (OSError, ValueError) as err:
            failed[mirror] = _describe(err) if not isinstance(err, ChecksumError) else str(err)
            log.warning("%s: mirror %s failed: %s", remote.name, mirror, failed[mirror])
            continue
        log.info("%s: served by %s (%d bytes, MD5 verified, %.1f s)",
                 remote.name, mirror, path.stat().st_size, time.monotonic() - started)
        return mirror
    tried = "\n".join(f"  - {m}: {failed[m]}" for m in mirrors)
    raise DownloadError(f"could not fetch {remote.name} from any mirror; tried:\n{tried}")
