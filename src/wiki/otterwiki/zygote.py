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
EOF on stdin means the server is gone: every child is ended and the zygote exits, so a killed
server leaves no Otterwiki behind. SIGTERM does the same.

argv: zygote.py <run-dir> <padding>; the padding only reserves room in the process's argument
area, which each child overwrites with its own title (wiki_child.set_title).
"""

import gc
import json
import os
import select
import signal
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


class _Zygote:
    def __init__(self, run_dir):
        self.run_dir = run_dir
        self.children = {}
        self.buffer = b""

    def serve(self):
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        self.wake_fds = (wake_read, wake_write)
        signal.set_wakeup_fd(wake_write)
        # A handler (not SIG_IGN, which would auto-reap and hide exit codes) wakes select().
        signal.signal(signal.SIGCHLD, lambda *_: None)
        _emit({"event": "zygote-ready", "pid": os.getpid()})
        while True:
            readable, _, _ = select.select([0, wake_read], [], [])
            if wake_read in readable:
                while True:
                    try:
                        if not os.read(wake_read, 512):
                            break
                    except BlockingIOError:
                        break
            self.reap()
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
            wiki_child.run(request, self.wake_fds)  # never returns
        self.children[pid] = request["socket"]
        _emit({"event": "spawned", "socket": request["socket"], "pid": pid})

    def reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            # As a subreaper, we also reap git helpers orphaned by a killed child; not ours.
            if self.children.pop(pid, None) is not None:
                _emit({"event": "exit", "pid": pid, "code": os.waitstatus_to_exitcode(status)})

    def end_children(self):
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
