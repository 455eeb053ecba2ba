"""One wiki's Otterwiki process, forked from the zygote (zygote.py): it takes on the wiki's
environment, cwd, log and title, imports our WSGI wrapper (which writes the wiki's settings,
scrubs the environment and imports otterwiki.server) and serves the wiki's unix socket, one
request at a time like gunicorn's sync worker, with the stdlib's wsgiref.

wsgiref's server is TCP-only: on a unix socket the peer address is "" and its handler fails
with IndexError, and nothing removes the socket file when it ends. Both are handled here, as
is what gunicorn_conf.py asked of gunicorn: headers with an underscore are dropped (a WSGI
server maps `-` and `_` to the same environ key, issue 8), and no header sets SCRIPT_NAME.
"""

import ctypes
import gc
import json
import os
import select
import shutil
import signal
import socket
import socketserver
import sys
import traceback
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import warm_cache

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
PR_SET_CHILD_SUBREAPER = 36

_libc = ctypes.CDLL(None, use_errno=True)


def prctl(option, value):
    argument = ctypes.c_char_p(value) if isinstance(value, bytes) else ctypes.c_ulong(value)
    zero = ctypes.c_ulong(0)
    if _libc.prctl(ctypes.c_int(option), argument, zero, zero, zero) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def set_title(parts):
    """Rewrites /proc/self/cmdline in place (what setproctitle does) and the short name.

    Forked children would otherwise all carry the zygote's command line, and the server's
    stale-process cleanup, `admin doctor` and operators find a wiki's process by the
    `unix:<socket>` in it, as they did with gunicorn's `--bind unix:<socket>`. The kernel
    reports the argument area [arg_start, arg_end) from /proc/self/stat (fields 48, 49).
    """
    with open("/proc/self/stat", "rb") as handle:
        stat = handle.read()
    fields = stat[stat.rindex(b")") + 2 :].split()
    start, end = int(fields[45]), int(fields[46])
    size = end - start
    title = b"\0".join(part.encode("utf-8") for part in parts)
    # Truncated rather than overflowing into the environment; the last byte stays NUL.
    ctypes.memmove(start, title[: size - 1].ljust(size, b"\0"), size)
    prctl(PR_SET_NAME, parts[0].encode("utf-8")[:15])


class _Handler(WSGIRequestHandler):
    # Bun is the only peer; a connection that stalls must not hold the wiki's only worker.
    timeout = 60

    def get_environ(self):
        for name in {name for name in self.headers.keys() if "_" in name}:
            del self.headers[name]
        return super().get_environ()

    def log_request(self, code="-", size="-"):
        # No access log (gunicorn kept none either); errors still reach the wiki's log.
        pass


class _UnixWSGIServer(WSGIServer):
    address_family = socket.AF_UNIX
    request_queue_size = 64

    def server_bind(self):
        # The socket is created 0600: only the server, as the same user, may talk to it.
        previous = os.umask(0o177)
        try:
            socketserver.TCPServer.server_bind(self)
        finally:
            os.umask(previous)
        self.server_name = "localhost"
        self.server_port = 80
        self.setup_environ()

    def get_request(self):
        connection, _ = self.socket.accept()
        # wsgiref reads client_address[0] as REMOTE_ADDR; a unix peer has no address.
        return connection, ("", 0)


_busy = False
# A former spare's status pipe: "d" once its first answer is out, so the zygote starts the next
# spare after it rather than next to it (two Python processes on a small box's cores).
_first_answer_fd = None
# gunicorn's worker timeout (30 s by default, which the old launcher kept): a request running
# longer ends this process, as gunicorn's master would kill its worker, so one slow view cannot
# hold the wiki's only worker for ever; the server starts a new one on the next request.
REQUEST_TIME_LIMIT = 30


def _on_alarm(signum, frame):
    sys.stderr.write(f"request took over {REQUEST_TIME_LIMIT} s; ending this process\n")
    sys.stderr.flush()
    os._exit(1)


def _first_answered():
    global _first_answer_fd
    if _first_answer_fd is not None:
        fd, _first_answer_fd = _first_answer_fd, None
        try:
            os.write(fd, b"d")
            os.close(fd)
        except OSError:
            pass


def _on_term(signum, frame):
    # Graceful like gunicorn's SIGTERM: a request in progress is finished first.
    global _stopping
    _stopping = True
    if not _busy:
        raise SystemExit(0)


_stopping = False


def _serve(server):
    global _busy
    while not _stopping:
        try:
            connection, address = server.get_request()
        except OSError:
            # ECONNABORTED and the like: that peer is gone, the socket still listens.
            continue
        _busy = True
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(REQUEST_TIME_LIMIT)
        try:
            server.finish_request(connection, address)
        except Exception:
            traceback.print_exc()
        finally:
            signal.alarm(0)
            server.shutdown_request(connection)
            _first_answered()
        try:
            # After the answer is out: what this process compiled for its first pages, for the
            # next; still "busy", so a SIGTERM waits for the file instead of cutting it.
            warm_cache.flush()
        finally:
            _busy = False


def _read_environment(path):
    """The wiki's environment, secret included, from the file the server wrote for this start.

    It never passes through the zygote, whose memory every later child inherits: a request
    line would leave the secret in freed memory there. The file goes once read; the wrapper
    writes the settings file (0600) it feeds Otterwiki with.
    """
    with open(path, encoding="utf-8") as handle:
        environment = json.load(handle)
    os.unlink(path)
    if not isinstance(environment, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in environment.items()
    ):
        raise ValueError(f"{path} is not a map of strings")
    return environment


def _open_log(path):
    # Started afresh with each process, as gunicorn's was: the log cannot grow without bound,
    # and a start that fails reports this start's lines (the server logs them).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 2)
    os.close(fd)


def run(request, inherited_fds, spare=None):
    """The child's whole life; it never returns into the zygote's stack.

    With `spare` ({"dir", "assignment", "status"}: a folder and two pipe fds) the child is a
    spare: it imports Otterwiki for a placeholder wiki and views a page of it, writes "r" on
    `status`, waits on `assignment` for the spawn request of the wiki it becomes, writes "b"
    once it has and "d" once its first answer is out (`request` is only the placeholder's: its
    repository and template cache).
    """
    code = 1
    try:
        code = _run(request, inherited_fds, spare)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            if _bound is not None and os.path.exists(_bound):
                os.unlink(_bound)
        except OSError:
            pass
        try:
            sys.stderr.flush()
        except Exception:
            pass
        os._exit(code)


_bound = None


def _placeholder_environment(request, spare_dir):
    """What the wrapper needs to import Otterwiki for no wiki: a tiny repository of the
    zygote's, state and settings in the spare's own folder, a secret nobody else knows."""
    import secrets

    environment = dict(os.environ)
    environment.update(
        {
            "HOME": spare_dir,
            "WIKIBOT_REPOSITORY": request["repository"],
            "WIKIBOT_STATE_DIR": os.path.join(spare_dir, "state"),
            "WIKIBOT_SECRET_KEY": secrets.token_urlsafe(32),
            "WIKIBOT_COOKIE_NAME": "ow_spare",
        }
    )
    return environment


def _await_assignment(fd):
    """The spawn request, one JSON line; None when the zygote closed the pipe (it is ending)."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 65536)
        if not chunk:
            return None
        data += chunk
    os.close(fd)
    return json.loads(data)


def _become(request):
    """Everything that makes this process the wiki's, before the wrapper applies its settings."""
    set_title(["wikibot-otterwiki", f"unix:{request['socket']}"])
    sys.stderr.flush()
    _open_log(request["log"])
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(_read_environment(request["envFile"]))


def _spare(placeholder, spare):
    """A spare's life until it is a wiki's process: Otterwiki imported for the placeholder wiki
    and one of its pages viewed, then the wiki's spawn request awaited and taken on. Returns
    that request, or None when the zygote ends first."""
    global _first_answer_fd
    spare_dir = spare["dir"]
    set_title(["wikibot-otterwiki-spare", spare_dir])
    os.makedirs(spare_dir, mode=0o700)
    _open_log(os.path.join(spare_dir, "spare.log"))
    os.chdir(spare_dir)
    os.environ.clear()
    os.environ.update(_placeholder_environment(placeholder, spare_dir))
    import wikibot_wsgi

    wikibot_wsgi.use_bytecode_cache(placeholder.get("templateCache"))
    # Handed a wiki while still importing (cold wikis in a row): it waits, so no warm-up.
    if not select.select([spare["assignment"]], [], [], 0)[0]:
        wikibot_wsgi.warm_up()
        # What the import and the view made stays: collections in the wiki's process then
        # walk only what it makes itself (Python's gc docs: freeze before serving).
        gc.collect()
        gc.freeze()
    os.write(spare["status"], b"r")
    request = _await_assignment(spare["assignment"])
    if request is None:
        return None
    _become(request)
    wikibot_wsgi.reconfigure()
    # Became the wiki's: a spare that fails before this is not used for that wiki again.
    os.write(spare["status"], b"b")
    _first_answer_fd = spare["status"]
    shutil.rmtree(spare_dir, ignore_errors=True)
    return request


def _run(request, inherited_fds, spare):
    global _bound
    zygote = os.getppid()
    for fd in inherited_fds:
        os.close(fd)
    signal.set_wakeup_fd(-1)
    # git's exit codes would read as 0 under the zygote's SIGCHLD handler.
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, _on_term)
    # Its own process group (like gunicorn's), so stopping it ends its git helpers too.
    os.setsid()
    # A killed zygote takes its children along; the server then sees every one of them exit.
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != zygote:
        return 1
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    gc.enable()
    warm_cache.forked()
    if spare is None:
        _become(request)
        import wikibot_wsgi

        wikibot_wsgi.use_bytecode_cache(request.get("templateCache"))
    else:
        request = _spare(request, spare)
        if request is None:
            return 0
        import wikibot_wsgi

    socket_path = request["socket"]
    try:
        os.unlink(socket_path)
    except FileNotFoundError:
        pass
    server = _UnixWSGIServer(socket_path, _Handler)
    _bound = socket_path
    server.set_app(wikibot_wsgi.app)
    warm_cache.started()
    os.write(1, (json.dumps({"event": "ready", "pid": os.getpid()}) + "\n").encode())
    # The control pipe stays the zygote's: a child holding it would hide the zygote's exit.
    os.dup2(devnull, 1)
    os.close(devnull)
    _serve(server)
    return 0
