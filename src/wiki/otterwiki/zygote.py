"""The pre-loaded parent ("zygote") of every wiki's Otterwiki process (src/wiki/zygote.ts).

Importing Otterwiki costs ~0.9 s and ~70 MiB per process, most of it third-party modules that
hold no per-wiki state. This process imports those once, warms them up, freezes its heap
(gc.freeze, so children do not dirty the shared pages by collecting them) and forks one child
per wiki on request. A child applies that wiki's environment, cwd and log, then imports our
WSGI wrapper, which writes the wiki's settings, scrubs the environment and imports
`otterwiki.server` (which configures itself once, at import: it must never be imported here,
or every child would inherit the first wiki's settings). See wiki_child.py for the child.

Control channel (JSON lines): requests arrive on stdin, events leave on stdout.
  in:  {"op": "spawn", "socket", "cwd", "log", "envFile", "templateCache"}
       (the wiki's environment, with its secret, is read by the child from envFile: nothing
       secret passes through this process, whose memory every later child inherits)
  out: {"event": "zygote-ready", "pid"}           once, after the warm-up
       {"event": "spawned", "socket", "pid"}      a child was forked for that socket
       {"event": "spawn-failed", "socket"}        fork() failed (no memory or processes)
       {"event": "ready", "pid"}                  written by the child once it listens
       {"event": "exit", "pid", "code"}           a child ended (code < 0: killed by -code)
       {"event": "spare", "state"}                the spare is "starting", "ready" or "none"
A spare child is kept ready ahead of demand (wiki_child.run with a spare): it imports Otterwiki
for a placeholder wiki, views one of its pages and waits; a spawn request is handed to it, and it
becomes that wiki's process at a fraction of an import's cost (wikibot_wsgi.reconfigure). The
next spare is forked once that wiki's first answer is out (or a second after the hand-over), so
it does not compete for the CPU with the visitor waiting. A spare is not a wiki's process until
it is handed one: its start and end are never reported, and without one (none yet, or spares
failing) a child is forked and imports Otterwiki as before.

EOF on stdin means the server is gone: every child is ended and the zygote exits, so a killed
server leaves no Otterwiki behind. SIGTERM does the same.

argv: zygote.py <run-dir> <padding>; the padding only reserves room in the process's argument
area, which each child overwrites with its own title (wiki_child.set_title).
"""

import gc
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time

import warm_cache
import wiki_child

# Heavy third-party modules Otterwiki imports, and the otterwiki modules that do not import
# otterwiki.server (measured: /work/shared/notes/otterwiki.md, "A pre-loaded parent").
_PRELOAD = (
    "sqlalchemy",
    "sqlalchemy.orm",
    "sqlalchemy.dialects.sqlite",
    "flask",
    "flask_sqlalchemy",
    "flask_login",
    "flask_mail",
    "flask_wtf",
    "flask_wtf.csrf",
    "wtforms",
    "werkzeug",
    "werkzeug.routing",
    "jinja2",
    "git",
    "bs4",
    "soupsieve",
    "mistune",
    "yaml",
    "PIL.Image",
    "pygments",
    "pygments.formatters",
    "pygments.lexers",
    "unidiff",
    "regex",
    "feedgen.feed",
    "pluggy",
    "email.mime.text",
    "otterwiki.util",
    "otterwiki.plugins",
    "otterwiki.repomgmt",
    "otterwiki.gitstorage",
    "otterwiki.renderer_plugins",
    "otterwiki.renderer",
    "otterwiki.mdutils",
    "otterwiki.pluginmgmt",
    "otterwiki.version",
)
_WARM_LEXERS = ("python", "bash", "javascript", "json", "yaml", "html", "css", "sql", "c", "text")
_SAMPLE_PAGE = """# Sample

Some *text* with a [[WikiLink]], a [link](https://example.org) and `code`.

| a | b |
|---|---|
| 1 | 2 |

- [ ] task
- item

> quote

```python
def f(x):
    return x + 1
```
"""


def _emit(event):
    # One write of a short line: atomic on a pipe (< PIPE_BUF), so children may share it.
    os.write(1, (json.dumps(event) + "\n").encode("utf-8"))


def _defer_url_builders():
    """Werkzeug compiles two URL-builder functions (ast + compile()) for each of Otterwiki's
    ~80 routes as they are added: ~45% of a child's `import otterwiki.server`. A page needs
    only the few its links use, so each is compiled on its first use instead; what it returns
    is unchanged. Skipped if werkzeug's private method is not what it was in 3.1.
    """
    from werkzeug.routing.rules import Rule

    compile_builder = getattr(Rule, "_compile_builder", None)
    if compile_builder is None or getattr(compile_builder, "_wikibot_lazy", False):
        return

    def lazy_compile_builder(rule, append_unknown=True):
        compiled = None

        def build(bound_rule, *args, **kwargs):
            nonlocal compiled
            if compiled is None:
                try:
                    key = warm_cache.builder_key(bound_rule, append_unknown)
                except Exception:
                    key = None
                function = None if key is None else warm_cache.cached_builder(key)
                if function is None:
                    function = compile_builder(bound_rule, append_unknown)
                    if key is not None:
                        warm_cache.remember_builder(key, function)
                compiled = function.__get__(bound_rule, None)
            return compiled(*args, **kwargs)

        return build

    lazy_compile_builder._wikibot_lazy = True
    Rule._compile_builder = lazy_compile_builder


def _warm_routing():
    """Werkzeug's matcher compiles each rule part's regular expression on the first request
    (`re.compile`, whose cache the children inherit). Otterwiki's routes are plain strings in
    views.py, so a throwaway map of the same rules compiles the same patterns here, without
    importing views (which imports otterwiki.server).
    """
    import pathlib
    import re

    import otterwiki
    from werkzeug.routing import Map, Rule

    views = pathlib.Path(otterwiki.__file__).with_name("views.py")
    try:
        routes = sorted(set(re.findall(r'@app\.route\(\s*"([^"]+)"', views.read_text())))
    except OSError:
        return
    url_map = Map([Rule(route, endpoint=f"route{index}") for index, route in enumerate(routes)])
    adapter = url_map.bind("localhost")
    for path in ("/", "/Home", "/Home/edit", "/Home/a/file.png", "/-/changelog", "/static/x.css"):
        try:
            adapter.match(path)
        except Exception:
            # 404s and redirects are fine: the patterns on the way were compiled.
            pass


def _preload():
    import importlib

    for name in _PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError as error:
            # An optional module missing only costs the child its import; say so in the log.
            print(f"zygote: could not preload {name}: {error}", file=sys.stderr)
    if "otterwiki.server" in sys.modules:
        # Every child would carry this wiki-less app and its settings; refuse to serve.
        raise RuntimeError("otterwiki.server was imported into the zygote")
    _defer_url_builders()
    _warm_routing()
    from pygments.lexers import get_lexer_by_name
    from otterwiki.renderer import render

    for lexer in _WARM_LEXERS:
        get_lexer_by_name(lexer)
    # Compiles mistune's and the renderer's regular expressions once, for every child.
    render.markdown(_SAMPLE_PAGE)


# A spare that failed waits this long before the next one (doubling, capped): a spare that cannot
# import must not turn the zygote into a fork loop.
SPARE_RETRY_FIRST = 1.0
SPARE_RETRY_MAX = 60.0
# Spares that fail to become the wiki they were handed, in a row, before the zygote stops using
# them (an Otterwiki that reconfigure() no longer matches): one wiki's trouble must not.
SPARES_GIVE_UP_AFTER = 3
# The next spare starts when the last one has answered its wiki's first request, or this many
# seconds after it was handed the wiki, whichever is first.
NEXT_SPARE_AFTER = 1.0


class _Spare:
    def __init__(self, pid, folder, assignment, status):
        self.pid = pid
        self.folder = folder
        self.assignment = assignment
        self.status = status
        self.ready = False


class _Zygote:
    def __init__(self, run_dir):
        self.run_dir = run_dir
        self.children = {}
        self.buffer = b""
        self.spares_dir = os.path.join(run_dir, "spares")
        self.spare = None
        self.spare_count = 0
        self.spare_retry = 0.0
        self.spare_after = None
        self.placeholder = None
        # Status pipes of spares handed a wiki, by fd: [pid, socket, whether it became its].
        self.becoming = {}
        # Wikis a spare failed to become: their next start is a child of their own.
        self.fresh_only = set()
        self.failed_becoming = 0
        self.spare_reported = None

    def serve(self):
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        self.wake_fds = (wake_read, wake_write)
        signal.set_wakeup_fd(wake_write)
        # A handler (not SIG_IGN, which would auto-reap and hide exit codes) wakes select().
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.prepare_spares()
        _emit({"event": "zygote-ready", "pid": os.getpid()})
        self.start_spare()
        while True:
            watched = [0, wake_read, *self.becoming]
            if self.spare is not None and not self.spare.ready:
                watched.append(self.spare.status)
            timeout = None
            if self.spare_after is not None:
                timeout = max(0.0, self.spare_after - time.monotonic())
            readable, _, _ = select.select(watched, [], [], timeout)
            if wake_read in readable:
                while True:
                    try:
                        if not os.read(wake_read, 512):
                            break
                    except BlockingIOError:
                        break
            self.reap()
            if self.spare is not None and not self.spare.ready and self.spare.status in readable:
                self.spare_status()
            for fd in [fd for fd in readable if fd in self.becoming]:
                self.became(fd)
            if self.spare_after is not None and time.monotonic() >= self.spare_after:
                self.start_spare()
            if 0 in readable:
                data = os.read(0, 65536)
                if not data:
                    return
                self.buffer += data
                while b"\n" in self.buffer:
                    line, self.buffer = self.buffer.split(b"\n", 1)
                    if line.strip():
                        self.handle(json.loads(line))

    def handle(self, request):
        if request.get("op") != "spawn":
            print(f"zygote: unknown request {request!r}", file=sys.stderr)
            return
        spare = self.spare
        fresh = request["socket"] in self.fresh_only
        self.fresh_only.discard(request["socket"])
        if not fresh and spare is not None and self.assign(spare, request):
            # The next spare starts once this one's first answer is out (became), or after this.
            self.spare_after = time.monotonic() + NEXT_SPARE_AFTER
            return
        self.fork_child(request)

    def assign(self, spare, request):
        """Hands the request to the spare (one still importing takes it when done, skipping
        its warm-up: sooner than a child forked now); False if it has just died."""
        self.spare = None
        self.report_spare()
        try:
            _write_all(spare.assignment, (json.dumps(request) + "\n").encode("utf-8"))
        except OSError:
            # EPIPE: it ended meanwhile; reap() collects it as an unknown child.
            shutil.rmtree(spare.folder, ignore_errors=True)
            os.close(spare.status)
            return False
        finally:
            os.close(spare.assignment)
        self.becoming[spare.status] = [spare.pid, request["socket"], False]
        self.children[spare.pid] = request["socket"]
        _emit({"event": "spawned", "socket": request["socket"], "pid": spare.pid})
        return True

    def fork_child(self, request):
        warm_cache.refresh()
        # Objects made since the last freeze (the line above, the request) would be collected
        # in, and so copied into, every child; freezing them again keeps the pages shared.
        gc.freeze()
        try:
            pid = os.fork()
        except OSError as error:
            # Out of memory or processes: this wiki fails to start, the others keep running.
            print(f"zygote: fork failed: {error}", file=sys.stderr)
            _emit({"event": "spawn-failed", "socket": request["socket"]})
            return
        if pid == 0:
            wiki_child.run(request, self.inherited())  # never returns
        self.children[pid] = request["socket"]
        _emit({"event": "spawned", "socket": request["socket"], "pid": pid})

    def became(self, fd):
        """A spare handed a wiki reports on its status pipe: "r" ready (if it was not yet), "b"
        once it is the wiki's process, "d" once its first answer is out (or the pipe ends)."""
        entry = self.becoming[fd]
        pid, socket_path = entry[0], entry[1]
        try:
            data = os.read(fd, 16)
        except OSError:
            data = b""
        if b"b" in data:
            entry[2] = True
            self.failed_becoming = 0
        if data and b"d" not in data:
            return
        del self.becoming[fd]
        os.close(fd)
        if entry[2]:
            if self.spare is None and self.placeholder is not None:
                self.start_spare()
            return
        # Its log (the wiki's) says why; the server sees it exit and starts the wiki again.
        self.fresh_only.add(socket_path)
        self.failed_becoming += 1
        print(f"zygote: spare {pid} could not become {socket_path}'s process", file=sys.stderr)
        if self.failed_becoming >= SPARES_GIVE_UP_AFTER and self.placeholder is not None:
            print("zygote: no more spares; every wiki's process imports Otterwiki", file=sys.stderr)
            self.placeholder = None
            self.drop_spare(failed=False)

    def inherited(self):
        fds = list(self.wake_fds) + list(self.becoming)
        if self.spare is not None:
            fds += [fd for fd in (self.spare.assignment, self.spare.status) if fd is not None]
        return fds

    def prepare_spares(self):
        """A fresh folder for spares, and the placeholder wiki's repository (one commit)."""
        shutil.rmtree(self.spares_dir, ignore_errors=True)
        repository = os.path.join(self.spares_dir, "repository")
        os.makedirs(repository, mode=0o700)
        git = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.spares_dir,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "wikibot",
            "GIT_AUTHOR_EMAIL": "wikibot@localhost",
            "GIT_COMMITTER_NAME": "wikibot",
            "GIT_COMMITTER_EMAIL": "wikibot@localhost",
        }
        with open(os.path.join(repository, "Home.md"), "w", encoding="utf-8") as handle:
            handle.write("# Home\n")
        try:
            for command in (
                ["git", "init", "-q", "-b", "main"],
                ["git", "add", "Home.md"],
                ["git", "commit", "-q", "-m", "placeholder"],
            ):
                subprocess.run(command, cwd=repository, env=git, check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as error:
            print(f"zygote: no placeholder repository, so no spares: {error}", file=sys.stderr)
            return
        self.placeholder = repository

    def start_spare(self):
        self.spare_after = None
        if self.placeholder is None or self.spare is not None:
            return
        warm_cache.refresh()
        gc.freeze()
        assignment_read, assignment_write = os.pipe()
        status_read, status_write = os.pipe()
        self.spare_count += 1
        folder = os.path.join(self.spares_dir, str(self.spare_count))
        try:
            pid = os.fork()
        except OSError as error:
            print(f"zygote: fork failed for a spare: {error}", file=sys.stderr)
            for fd in (assignment_read, assignment_write, status_read, status_write):
                os.close(fd)
            self.spare_failed()
            return
        if pid == 0:
            spare = {"dir": folder, "assignment": assignment_read, "status": status_write}
            # The compiled-template cache the server names in every spawn request (zygote.ts).
            templates = os.path.join(self.run_dir, "templates")
            request = {"repository": self.placeholder, "templateCache": templates}
            wiki_child.run(request, self.inherited() + [assignment_write, status_read], spare)
        os.close(assignment_read)
        os.close(status_write)
        self.spare = _Spare(pid, folder, assignment_write, status_read)
        self.report_spare()

    def spare_status(self):
        spare = self.spare
        try:
            data = os.read(spare.status, 16)
        except OSError:
            data = b""
        if data == b"r":
            # The pipe stays open: once handed a wiki, the spare reports on it again (became).
            spare.ready = True
            self.spare_retry = 0.0
            self.report_spare()
        else:
            # Ended before it was ready (its log says why).
            self.drop_spare(failed=True)

    def drop_spare(self, failed, reaped=False):
        spare = self.spare
        if spare is None:
            return
        self.spare = None
        for fd in (spare.assignment, spare.status):
            if fd is not None:
                os.close(fd)
        if not reaped:
            _signal_group(spare.pid, signal.SIGKILL)
        shutil.rmtree(spare.folder, ignore_errors=True)
        if failed:
            self.spare_failed()
        else:
            self.spare_after = time.monotonic()
        self.report_spare()

    def report_spare(self):
        """For the server's /health: whether the next wiki to start finds a spare ready."""
        if self.spare is None:
            state = "none"
        else:
            state = "ready" if self.spare.ready else "starting"
        if state != self.spare_reported:
            self.spare_reported = state
            _emit({"event": "spare", "state": state})

    def spare_failed(self):
        self.spare_retry = min(SPARE_RETRY_MAX, max(SPARE_RETRY_FIRST, self.spare_retry * 2))
        print(f"zygote: a spare failed; the next in {self.spare_retry:.0f} s", file=sys.stderr)
        self.spare_after = time.monotonic() + self.spare_retry

    def reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if self.spare is not None and pid == self.spare.pid:
                # Never a wiki's process, so not the server's to hear of; its log says why.
                self.drop_spare(failed=os.waitstatus_to_exitcode(status) != 0, reaped=True)
                continue
            # As a subreaper, we also reap git helpers orphaned by a killed child; not ours.
            if self.children.pop(pid, None) is not None:
                _emit({"event": "exit", "pid": pid, "code": os.waitstatus_to_exitcode(status)})

    def end_children(self):
        if self.spare is not None:
            spare, self.spare = self.spare, None
            _signal_group(spare.pid, signal.SIGKILL)
        for pid in self.children:
            _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while self.children and time.monotonic() < deadline:
            time.sleep(0.05)
            self.reap_quietly()
        for pid, socket_path in self.children.items():
            _signal_group(pid, signal.SIGKILL)
            _remove(socket_path)
        self.children.clear()
        shutil.rmtree(self.spares_dir, ignore_errors=True)

    def reap_quietly(self):
        try:
            self.reap()
        except OSError:
            # The server is gone (EPIPE); the exits no longer need reporting.
            while True:
                try:
                    pid, _ = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    return
                if pid == 0:
                    return
                self.children.pop(pid, None)


def _write_all(fd, data):
    while data:
        data = data[os.write(fd, data) :]


def _signal_group(pid, signum):
    try:
        os.killpg(pid, signum)
    except OSError:
        pass


def _remove(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _stop(signum, frame):
    raise SystemExit(0)


def main():
    run_dir = sys.argv[1]
    wiki_child.set_title(["wikibot-otterwiki-zygote", run_dir])
    signal.signal(signal.SIGTERM, _stop)
    # Git helpers of a killed child are re-parented to us and reaped, not left to init.
    wiki_child.prctl(wiki_child.PR_SET_CHILD_SUBREAPER, 1)
    # Python's docs: disable early, freeze right before fork, enable early in the child.
    gc.disable()
    warm_cache.install(os.path.join(run_dir, "warm-cache"))
    _preload()
    warm_cache.refresh()
    gc.freeze()
    zygote = _Zygote(run_dir)
    try:
        zygote.serve()
    finally:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        zygote.end_children()


if __name__ == "__main__":
    main()
