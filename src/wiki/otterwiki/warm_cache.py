"""What every wiki's process compiles again on start, learned from the children and kept on
disk (DATA_DIR/run/warm-cache) so the zygote holds it before it forks: the code objects of the
modules a child imports (otterwiki.server and the modules that import it may not run in the
zygote, but reading their bytecode is harmless), the regular expressions they compile at import
and werkzeug's URL-builder functions (one per route a page links to). Measured on a 2-core box:
~40 ms of a child's import for the modules, ~20 for the patterns, ~20 of its first page for the
builders (CPU time).

A builder is cached by everything its generated code is made of (werkzeug/routing/rules.py
`Rule._compile_builder`: the rule's trace, its defaults as URL text, append_unknown); the
converters it calls are read from the rule at run time. The file is written only by processes
of this server, as its own user, in a 0700 folder, like Jinja's compiled templates next to it;
a file from another Python or werkzeug is ignored.
"""

import builtins
import importlib.machinery
import marshal
import os
import re
import sys
import tempfile
import types

_path = None
_mtime = None
_patterns = set()
_builders = {}
_modules = set()
# Module name -> code object, read in the zygote for a child to execute.
_code = {}
_zygote_modules = frozenset()
_learned = False
# Only in a child, and only while it starts (imports): the zygote's own patterns (hundreds of
# Pygments rules) are compiled anyway, and re's cache holds 512 (re._MAXCACHE). Once it serves,
# a pattern may come from a request (a search builds one from its query): that must never
# reach the zygote, and so another wiki's process, nor grow this file.
_recording = False
_compile_pattern = re.compile


_version_cache = None


def _version():
    # importlib.metadata costs ~3 ms a call, and this runs on every load and flush.
    global _version_cache
    if _version_cache is None:
        import werkzeug

        _version_cache = (sys.version, getattr(werkzeug, "__version__", "") or _werkzeug_version())
    return _version_cache


def _werkzeug_version():
    from importlib.metadata import version

    return version("werkzeug")


def _recording_compile(pattern, flags=0):
    global _learned
    if _recording and isinstance(pattern, (str, bytes)):
        key = (pattern, int(flags))
        if key not in _patterns:
            _patterns.add(key)
            _learned = True
    return _compile_pattern(pattern, flags)


class _PreloadedLoader(importlib.machinery.SourceFileLoader):
    def get_code(self, fullname):
        code = _code.get(fullname)
        return code if code is not None else super().get_code(fullname)


class _PreloadedFinder:
    """Finds modules as the path finder does; hands over the code the zygote already read."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name not in _code:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and type(spec.loader) is importlib.machinery.SourceFileLoader:
            spec.loader = _PreloadedLoader(name, spec.origin)
        return spec

    @classmethod
    def invalidate_caches(cls):
        pass


def install(path):
    """In the zygote, before anything is imported: children record each re.compile."""
    global _path
    _path = path
    # Temporary files of children killed while writing (no child runs yet at the zygote's start).
    folder = os.path.dirname(path)
    for name in os.listdir(folder):
        if name.startswith(".warm-cache-"):
            _remove(os.path.join(folder, name))
    re.compile = _recording_compile
    sys.meta_path.insert(0, _PreloadedFinder)


def _read_code(name):
    """The module's code object, without running it; only when its package is loaded here."""
    parent = name.rpartition(".")[0]
    if name in sys.modules or (parent and parent not in sys.modules):
        return
    package = sys.modules.get(parent)
    search = getattr(package, "__path__", None) if parent else None
    if parent and search is None:
        return
    try:
        spec = importlib.machinery.PathFinder.find_spec(name, search)
        if spec is not None and type(spec.loader) is importlib.machinery.SourceFileLoader:
            _code[name] = spec.loader.get_code(name)
    except (ImportError, OSError, SyntaxError, ValueError):
        pass


def started():
    """In a child, once it listens: patterns from now on may carry a request's text."""
    global _recording
    _recording = False


def builder_key(rule, append_unknown):
    defaults = rule.defaults or {}
    converted = tuple(
        sorted(
            (name, rule._converters[name].to_url(value))
            for name, value in defaults.items()
            if name in rule._converters
        )
    )
    return (rule.rule, tuple(rule._trace), tuple(sorted(map(str, defaults))), converted, append_unknown)


def cached_builder(key):
    entry = _builders.get(key)
    if entry is None:
        return None
    code, defaults, name = entry
    return types.FunctionType(code, {"__builtins__": builtins}, name, defaults)


def remember_builder(key, function):
    global _learned
    if key in _builders:
        return
    _builders[key] = (function.__code__, function.__defaults__, function.__name__)
    _learned = True


def refresh():
    """In the zygote before a fork: take in what children have learned since the last look."""
    global _mtime
    if _path is None:
        return
    try:
        mtime = os.stat(_path).st_mtime_ns
    except OSError:
        return
    if mtime == _mtime:
        return
    _mtime = mtime
    stored = _load()
    if stored is None:
        return
    try:
        _take_in(*stored)
    except Exception:
        # Whatever is wrong with it, a bad file must not stop the zygote, nor stay to stop the
        # next one: it is only a speed-up, and children write it again.
        _remove(_path)


def _take_in(patterns, builders, modules):
    for name in modules:
        if name not in _modules:
            _modules.add(name)
            _read_code(name)
    for pattern, flags in patterns:
        if (pattern, flags) not in _patterns:
            _patterns.add((pattern, flags))
            try:
                _compile_pattern(pattern, flags)
            except re.error:
                pass
    for key, entry in builders:
        _builders.setdefault(key, entry)


def forked():
    """In a child: only what it compiles itself from here on is worth storing."""
    global _learned, _recording, _zygote_modules
    _learned = False
    _recording = True
    _zygote_modules = frozenset(sys.modules)


def _load():
    try:
        with open(_path, "rb") as handle:
            data = marshal.load(handle)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not isinstance(data, tuple) or len(data) != 4 or data[0] != _version():
        return None
    if not _well_formed(data[1], data[2], data[3]):
        _remove(_path)
        return None
    return data[1], data[2], data[3]


def _well_formed(patterns, builders, modules):
    """The shapes flush() writes, checked before anything is compiled or imported from them."""
    return (
        isinstance(patterns, list)
        and all(
            isinstance(entry, tuple)
            and len(entry) == 2
            and isinstance(entry[0], (str, bytes))
            and isinstance(entry[1], int)
            for entry in patterns
        )
        and isinstance(builders, list)
        and all(
            isinstance(entry, tuple)
            and len(entry) == 2
            and isinstance(entry[1], tuple)
            and len(entry[1]) == 3
            and isinstance(entry[1][0], types.CodeType)
            and isinstance(entry[1][1], (tuple, type(None)))
            and isinstance(entry[1][2], str)
            for entry in builders
        )
        and isinstance(modules, list)
        and all(isinstance(name, str) for name in modules)
    )


def _remove(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def flush():
    """In a child after a request: store what it learned, merged with what is on disk."""
    global _learned
    imported = {name for name in sys.modules if name not in _zygote_modules} - _modules
    if imported:
        _modules.update(imported)
        _learned = True
    if _path is None or not _learned:
        return
    _learned = False
    stored = _load()
    patterns = set(_patterns)
    builders = dict(_builders)
    modules = set(_modules)
    if stored is not None:
        patterns.update(stored[0])
        for key, entry in stored[1]:
            builders.setdefault(key, entry)
        modules.update(stored[2])
    data = (_version(), sorted(patterns, key=repr), list(builders.items()), sorted(modules))
    tmp_path = None
    try:
        fd, tmp_path = tempfile.mkstemp(dir=os.path.dirname(_path), prefix=".warm-cache-")
        with os.fdopen(fd, "wb") as handle:
            marshal.dump(data, handle)
        os.replace(tmp_path, _path)
    except (OSError, ValueError):
        # Only a speed-up: a full disk or an unmarshallable entry costs the next child time.
        if tmp_path is not None:
            _remove(tmp_path)
