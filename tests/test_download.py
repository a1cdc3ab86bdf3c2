"""fetch_dataset against real servers on 127.0.0.1 and real folders."""

import gzip
import http.server
import logging
import shutil
import socket
import threading

import pytest

from saepipe.fetch import DownloadError, RemoteFile, fetch_dataset, resolve_mirror

from conftest import TINY_FILES


def remote_files(tiny_mirror):
    _, files = tiny_mirror
    return [RemoteFile(files[key]["name"], files[key]["md5"]) for key in TINY_FILES]


class CountingServer:
    """A loopback HTTP server that answers every request with a fixed status (and counts them)."""

    def __init__(self, status: int):
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests += 1
                self.send_error(status)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def not_found_server():
    server = CountingServer(404)
    yield server
    server.close()


@pytest.fixture
def server_error_server():
    server = CountingServer(500)
    yield server
    server.close()


def refused_url() -> str:
    """A loopback port with nothing listening on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_files_come_from_the_http_mirror_and_match_the_source(tmp_path, tiny_mirror, http_mirror):
    folder, _ = tiny_mirror
    served = fetch_dataset(remote_files(tiny_mirror), [http_mirror], tmp_path, timeout=5, retries=0)
    assert set(served.values()) == {http_mirror}
    for name in TINY_FILES.values():
        assert (tmp_path / name).read_bytes() == (folder / name).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(TINY_FILES.values())


def test_a_failing_mirror_is_skipped_for_the_next_files(tmp_path, tiny_mirror, http_mirror, not_found_server, caplog):
    caplog.set_level(logging.INFO)
    served = fetch_dataset(remote_files(tiny_mirror), [not_found_server.url, http_mirror], tmp_path,
                           timeout=5, retries=2, retry_wait=0)
    assert set(served.values()) == {http_mirror}
    # a 404 is not retried, and the dead mirror is not asked for the other three files
    assert not_found_server.requests == 1
    assert "HTTP 404" in caplog.text
    assert f"served by {http_mirror}" in caplog.text


def test_a_local_folder_and_a_file_url_are_mirrors_too(tmp_path, tiny_mirror, caplog):
    folder, _ = tiny_mirror
    caplog.set_level(logging.INFO)
    served = fetch_dataset(remote_files(tiny_mirror), [refused_url(), str(folder)], tmp_path / "a",
                           timeout=2, retries=0)
    assert set(served.values()) == {str(folder)}
    assert "falling back to the local copy" in caplog.text
    served = fetch_dataset(remote_files(tiny_mirror), [folder.as_uri()], tmp_path / "b", timeout=2, retries=0)
    assert len(list((tmp_path / "b").iterdir())) == 4


def test_every_mirror_failing_lists_each_url_and_leaves_no_file(tmp_path, tiny_mirror, not_found_server):
    refused = refused_url()
    with pytest.raises(DownloadError) as err:
        fetch_dataset(remote_files(tiny_mirror), [refused, not_found_server.url, str(tmp_path / "nowhere")],
                      tmp_path / "raw", timeout=2, retries=0)
    message = str(err.value)
    assert refused in message and "ConnectionRefusedError" in message
    assert not_found_server.url in message and "HTTP 404" in message
    assert str(tmp_path / "nowhere") in message and "no file" in message
    assert list((tmp_path / "raw").iterdir()) == []


def test_a_bad_mirror_falls_through_to_a_good_one(tmp_path, tiny_mirror, http_mirror):
    folder, files = tiny_mirror
    bad = tmp_path / "bad-mirror"
    shutil.copytree(folder, bad)
    for entry in files.values():
        (bad / entry["name"]).write_bytes(b"not gzip at all")
    served = fetch_dataset(remote_files(tiny_mirror), [str(bad), http_mirror], tmp_path / "raw",
                           timeout=5, retries=0)
    assert set(served.values()) == {http_mirror}


def test_relative_folders_resolve_against_the_base_dir_and_urls_stay(tmp_path):
    assert resolve_mirror("resources/mnist", tmp_path) == str(tmp_path / "resources/mnist")
    assert resolve_mirror("/abs/path", tmp_path) == "/abs/path"
    assert resolve_mirror("https://example.org/mnist", tmp_path) == "https://example.org/mnist/"


def test_a_mirror_that_hangs_is_abandoned_after_the_timeout(tmp_path, tiny_mirror, http_mirror):
    # A listening socket that never answers: the connection opens, no response ever comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        hanging = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        served = fetch_dataset(remote_files(tiny_mirror), [hanging, http_mirror], tmp_path,
                               timeout=0.5, retries=0)
    assert set(served.values()) == {http_mirror}


def test_refused_404_500_and_hanging_mirrors_fall_through_to_the_good_one(
    tmp_path, tiny_mirror, http_mirror, not_found_server, server_error_server, caplog
):
    caplog.set_level(logging.INFO)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        hanging = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        mirrors = [refused_url(), not_found_server.url, server_error_server.url, hanging, http_mirror]
        served = fetch_dataset(remote_files(tiny_mirror), mirrors, tmp_path, timeout=0.5, retries=1,
                               retry_wait=0)
    assert set(served.values()) == {http_mirror}
    assert server_error_server.requests == 2  # a 5xx is retried once, then the mirror is dropped
    for name in TINY_FILES.values():
        assert f"{name}: served by {http_mirror}" in caplog.text
    for reason in ("ConnectionRefusedError", "HTTP 404", "HTTP 500", "timed out"):
        assert reason in caplog.text


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: data[:20] + bytes(b ^ 0xFF for b in data[20:40]) + data[40:], id="corrupt"),
        pytest.param(lambda data: gzip.decompress(data)[:-1], id="not-gzip"),
        pytest.param(lambda data: gzip.compress(gzip.decompress(data)[::-1]), id="gzip-of-wrong-content"),
    ],
)
def test_a_damaged_file_is_a_checksum_error_and_no_file_stays(tmp_path, tiny_mirror, damage):
    folder, files = tiny_mirror
    bad = tmp_path / "bad-mirror"
    shutil.copytree(folder, bad)
    name = files["train_labels"]["name"]  # the second file: the first one must go too
    (bad / name).write_bytes(damage((folder / name).read_bytes()))
    with pytest.raises(DownloadError) as err:
        fetch_dataset(remote_files(tiny_mirror), [str(bad)], tmp_path / "raw", timeout=2, retries=0)
    message = str(err.value)
    assert f"{name} from {bad}" in message
    assert files["train_labels"]["md5"] in message
    assert list((tmp_path / "raw").iterdir()) == []
