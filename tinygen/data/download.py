"""Fetch a data file from a list of mirrors, verified and written atomically. Standard library only.

``fetch_file`` tries each mirror in order with a timeout, hashes the bytes while streaming them
into a temporary file in the destination folder, checks the checksum (and, optionally, the file's
structure), fsyncs, and only then renames the file into place with ``os.replace``. A failed,
interrupted or mismatching download therefore never leaves a partial or wrong file under the
final name, and two processes downloading at once cannot see each other's half-written bytes.
When every mirror fails, ``DownloadError`` lists each URL with its failure and says how to
place the file by hand.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from typing import Callable, Iterable, Optional, Sequence, Union

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0  # seconds per connection attempt / socket read
_CHUNK = 1 << 16


class DownloadError(OSError):
    """No mirror produced a valid copy of a file (offline, HTTP error, checksum mismatch...)."""


def parse_checksum(checksum: str):
    """Return (algorithm, lowercase hex) for ``"md5:<hex>"``, ``"sha256:<hex>"`` or bare hex.

    Bare hex is read by its length: 32 digits are MD5, 64 are SHA-256.
    """
    text = str(checksum).strip().lower()
    algo, _, digest = text.rpartition(":")
    if not algo:
        algo = {32: "md5", 64: "sha256"}.get(len(digest), "")
    lengths = {"md5": 32, "sha256": 64}
    if algo not in lengths or len(digest) != lengths[algo] or not re.fullmatch(r"[0-9a-f]+", digest):
        raise ValueError(
            f"checksum {checksum!r} is not understood; give 'md5:<32 hex digits>', "
            f"'sha256:<64 hex digits>' or bare hex of one of those lengths"
        )
    return algo, digest


def file_digest(path, algo: str = "md5") -> str:
    """Hex digest of a file's bytes."""
    h = hashlib.new(algo, usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def parse_mirror_list(text: str) -> list:
    """Split a mirror list given as text (an environment variable) on commas or whitespace."""
    return [m for m in re.split(r"[,\s]+", text or "") if m]


def _normalise_mirrors(mirrors: Union[str, Iterable[str]]) -> list:
    if isinstance(mirrors, (str, bytes, os.PathLike)):
        mirrors = [os.fsdecode(mirrors)]
    mirrors = [str(m) for m in mirrors]
    if not mirrors:
        raise ValueError("no mirrors given to download from; pass at least one base URL")
    return mirrors


def _join(base: str, filename: str) -> str:
    return base if base.endswith(filename) else base.rstrip("/") + "/" + filename


def _fsync_dir(folder: str) -> None:
    """Persist the rename itself (POSIX); harmless no-op where directories cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _download_one(url: str, folder: str, filename: str, checksum, timeout: float,
                  validate: Optional[Callable[[str], None]]) -> str:
    """Download ``url`` to ``folder/filename`` atomically; raise on any failure, leaving nothing."""
    import urllib.request  # lazy: keeps ``import tinygen.data`` cheap

    final = os.path.join(folder, filename)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{filename}.", suffix=".part")
    try:
        h = hashlib.new(checksum[0] if checksum else "md5", usedforsecurity=False)
        with os.fdopen(fd, "wb") as out:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    h.update(chunk)
            out.flush()
            os.fsync(out.fileno())
        if checksum and h.hexdigest() != checksum[1]:
            raise ValueError(f"checksum mismatch: expected {checksum[0]} {checksum[1]}, got {h.hexdigest()}")
        if validate is not None:
            validate(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; data files are meant to be shared
        os.replace(tmp, final)
        tmp = None
        _fsync_dir(folder)
        return final
    finally:
        if tmp is not None:
            try:
                os.remove(tmp)
            except FileNotFoundError:
                pass


def fetch_file(filename: str, folder, mirrors: Sequence[str], checksum: Optional[str] = None,
               timeout: float = DEFAULT_TIMEOUT, validate: Optional[Callable[[str], None]] = None,
               what: str = "", manual_hint: str = "") -> str:
    """Download ``filename`` from the first mirror that serves a valid copy; return its path.

    Args:
      filename: name on the mirror and on disk.
      folder: destination folder (created if missing).
      mirrors: base URLs tried in order; the URL is ``base/filename``.
      checksum: ``"md5:..."``/``"sha256:..."``/bare hex, or None to skip the hash check.
      timeout: seconds for connecting and for each read.
      validate: optional callable given the downloaded temporary path; it raises ValueError if
        the content is wrong (e.g. not a well-formed IDX file).
      what, manual_hint: text for the error message (the data set's name, how to install by hand).

    Raises DownloadError listing every URL tried and why it failed.
    """
    import http.client

    mirrors = _normalise_mirrors(mirrors)
    parsed = parse_checksum(checksum) if checksum is not None else None
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    failures = []
    for base in mirrors:
        url = _join(base, filename)
        log.info("downloading %s", url)
        try:
            return _download_one(url, folder, filename, parsed, timeout, validate)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            failures.append(f"  {url}: {type(exc).__name__}: {exc}")
            log.info("download of %s failed: %s", url, exc)
    tried = "\n".join(failures)
    target = os.path.join(folder, filename)
    raise DownloadError(
        f"could not download {filename}{f' ({what})' if what else ''}; every mirror failed "
        f"(offline, blocked, or the mirrors moved?):\n{tried}\n"
        f"Place the file by hand at {target}"
        + (f" {manual_hint}" if manual_hint else "")
        + ", then call again."
    )
