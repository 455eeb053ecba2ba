"""WSGI entry point for one wiki's Otterwiki process (ours, not Otterwiki's).

It turns WIKIBOT_* environment variables into an Otterwiki settings file, imports
`otterwiki.server` (which configures itself once, at import time), and wraps the app so
percent-encoded identity headers reach git as real UTF-8. It does no authorization:
the Bun proxy decides the x-otterwiki-* headers and is the only peer of the socket.

Environment (set by the Bun server per wiki process):

  WIKIBOT_REPOSITORY       required  non-bare git working tree of the wiki (branch main)
  WIKIBOT_STATE_DIR        required  directory for Otterwiki's own files; the generated
                                     settings.cfg (mode 0600) is rewritten there on start
  WIKIBOT_SECRET_KEY       required  >= 16 characters; signs the session cookie and CSRF
  WIKIBOT_COOKIE_NAME      required  session cookie name, unique per wiki (e.g. ow_demo);
                                     cookies ignore ports, so a shared name breaks CSRF
  WIKIBOT_DB_PATH          optional  SQLite preferences/drafts db
                                     (default: <WIKIBOT_STATE_DIR>/otterwiki.db)
  WIKIBOT_SITE_NAME        optional  shown in the header and <title> (default: Wiki)
  WIKIBOT_COMMITTER_NAME   optional  git committer of every Otterwiki commit (default: wikibot)
  WIKIBOT_COMMITTER_EMAIL  optional  (default: wikibot@localhost)
  WIKIBOT_COOKIE_SECURE    optional  "true" when the public URL is https (default: false)
  WIKIBOT_LOG_LEVEL        optional  DEBUG / INFO / WARNING / ERROR (default: INFO)
  WIKIBOT_ANONYMOUS_EMAIL  optional  the email the proxy sends for anonymous readers; they
                                     get a "Sign in" link, everyone else a "Sign out" link
  WIKIBOT_URL_SCHEME       optional  "https" when the public URL is https: the request scheme
                                     is fixed per deployment, never taken from a header

The Bun proxy is the socket's only peer, but what it forwards started as a client's request,
so this wrapper trusts no header to change how a request is routed: it refuses a SCRIPT_NAME
(gunicorn would already have cut it off PATH_INFO), drops forwarding headers, and refuses any
write whose Flask endpoint and view arguments differ from the route the proxy checked (sent in
X-Wikibot-Route). Otterwiki's repository-, user- and mail-administration and its git and pull
endpoints are refused whatever the path looked like. Every commit gets a `Client: browser`
trailer, like the commits of every other surface (DESIGN section 4).

Otterwiki lets any environment variable named like a config key (DEBUG, SERVER_NAME,
SECRET_KEY, ...) override the settings file, and git obeys GIT_DIR & co. So before the
import this module drops every variable not on a short allowlist, WIKIBOT_* included.
Run it with PYTHONUTF8=1: Otterwiki writes pages with open() in the locale's encoding.
"""

import os
import re
import sys
import tempfile
from urllib.parse import parse_qsl, unquote

_KEEP_ENV = re.compile(
    r"^(PATH|HOME|USER|LOGNAME|TZ|TMPDIR|LANG|LANGUAGE|LC_[A-Z_]+|PYTHON[A-Z_]*)$"
)
_IDENTITY_ENVIRON_KEYS = ("HTTP_X_OTTERWIKI_NAME", "HTTP_X_OTTERWIKI_EMAIL")
# Control characters would corrupt the commit object; < and > delimit the email in a git ident.
_UNSAFE_IN_IDENT = re.compile(r"[\x00-\x1f\x7f<>]")


def _fail(message):
    # gunicorn reports a worker that exits during import as "Worker failed to boot" and stops.
    print(f"wikibot_wsgi: {message}", file=sys.stderr)
    sys.exit(1)


def _required(name):
    value = os.environ.get(name, "").strip()
    if not value:
        _fail(f"{name} is not set")
    return value


def _write_settings(state_dir):
    repository = os.path.abspath(_required("WIKIBOT_REPOSITORY"))
    secret_key = _required("WIKIBOT_SECRET_KEY")
    cookie_name = _required("WIKIBOT_COOKIE_NAME")
    db_path = os.path.abspath(
        os.environ.get("WIKIBOT_DB_PATH") or os.path.join(state_dir, "otterwiki.db")
    )
    if len(secret_key) < 16:
        _fail("WIKIBOT_SECRET_KEY must be at least 16 characters")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", cookie_name):
        _fail("WIKIBOT_COOKIE_NAME may hold only letters, digits, '_' and '-'")
    if not os.path.isdir(os.path.join(repository, ".git")):
        _fail(f"WIKIBOT_REPOSITORY {repository} is not a git working tree (no .git directory)")

    settings = {
        "REPOSITORY": repository,
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
        "SITE_NAME": os.environ.get("WIKIBOT_SITE_NAME") or "Wiki",
        "SESSION_COOKIE_NAME": cookie_name,
        "SESSION_COOKIE_SECURE": os.environ.get("WIKIBOT_COOKIE_SECURE", "").lower() == "true",
        "LOG_LEVEL": (os.environ.get("WIKIBOT_LOG_LEVEL") or "INFO").upper(),
        "AUTH_METHOD": "PROXY_HEADER",
        # Page "Research/Topic A" is the file "Research/Topic A.md", exactly as wikibot names it.
        "RETAIN_PAGE_NAME_CASE": True,
        # wikibot serves git itself and runs no remotes from inside a wiki process.
        "GIT_WEB_SERVER": False,
        "GIT_REMOTE_PUSH_ENABLED": False,
        "GIT_REMOTE_PULL_ENABLED": False,
    }
    path = os.path.join(state_dir, "settings.cfg")
    # Python syntax, read by Flask's from_envvar; repr() quotes every value safely.
    text = "".join(f"{key} = {value!r}\n" for key, value in settings.items())
    fd, tmp_path = tempfile.mkstemp(dir=state_dir, prefix=".settings-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp_path, path)
    return path, settings


def _configure_environment():
    global _anonymous_email, _url_scheme
    _anonymous_email = os.environ.get("WIKIBOT_ANONYMOUS_EMAIL") or None
    scheme = os.environ.get("WIKIBOT_URL_SCHEME", "")
    if scheme not in ("", "http", "https"):
        _fail("WIKIBOT_URL_SCHEME must be http or https")
    _url_scheme = scheme or None
    state_dir = os.path.abspath(_required("WIKIBOT_STATE_DIR"))
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    settings_path, settings = _write_settings(state_dir)
    committer = (
        os.environ.get("WIKIBOT_COMMITTER_NAME") or "wikibot",
        os.environ.get("WIKIBOT_COMMITTER_EMAIL") or "wikibot@localhost",
    )
    for name in list(os.environ):
        if not _KEEP_ENV.match(name):
            del os.environ[name]
    os.environ["OTTERWIKI_SETTINGS"] = settings_path
    # Otterwiki commits with author= only; GitPython takes the committer from these.
    os.environ["GIT_COMMITTER_NAME"], os.environ["GIT_COMMITTER_EMAIL"] = committer
    return settings


def _decode_identity(value):
    """Percent-decoded UTF-8 header value; PEP 3333 hands header bytes over as latin-1."""
    try:
        value = value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        pass
    return _UNSAFE_IN_IDENT.sub("", unquote(value, encoding="utf-8", errors="replace")).strip()


_anonymous_email = None
_url_scheme = None
_settings = _configure_environment()

from otterwiki.plugins import hookimpl, plugin_manager  # noqa: E402  (after the settings)


class _AccountLink:
    """Proxy mode hides Otterwiki's login and logout links; wikibot answers both routes."""

    @hookimpl
    def template_html_body_inject(self, page):
        from flask_login import current_user

        if _anonymous_email is None or not current_user.is_authenticated:
            return None
        signed_out = current_user.email == _anonymous_email
        href, label = ("/-/login", "Sign in") if signed_out else ("/-/logout", "Sign out")
        return (
            '<a id="wikibot-account" href="%s" style="position:fixed;right:1rem;bottom:1rem;'
            "z-index:100;padding:.3rem .8rem;border-radius:1rem;background:#1e88e5;color:#fff;"
            'font-size:.85rem;text-decoration:none">%s</a>' % (href, label)
        )


plugin_manager.register(_AccountLink(), name="wikibot-account-link")

from otterwiki.server import app as otterwiki_app  # noqa: E402  (must follow the settings)

# Preferences rows in the db override the settings file, and an owner (ADMIN) can write some
# of them from the site settings. These must hold whatever is saved there: the page-to-file
# mapping, no git server or remotes inside the process, and no SERVER_NAME (Flask would stop
# matching the wiki's host). Re-applied on every request because a saved form reloads them.
def _pinned(settings):
    return {
        "RETAIN_PAGE_NAME_CASE": settings["RETAIN_PAGE_NAME_CASE"],
        "GIT_WEB_SERVER": False,
        "GIT_REMOTE_PUSH_ENABLED": False,
        "GIT_REMOTE_PULL_ENABLED": False,
        "SERVER_NAME": None,
    }


_PINNED = _pinned(_settings)
otterwiki_app.config.update(_PINNED)


def warm_up():
    """In a spare, before it has a wiki: one page view of the placeholder wiki through this
    wrapper, so what a first view runs once (Jinja's templates, SQLAlchemy's queries, the git
    helpers GitPython keeps) is done before a visitor waits for it: ~40 ms of a cold wiki's
    first page, measured. Otterwiki keeps what a view learns in its database (replaced by
    reconfigure), not in memory; test/otterwiki-spare.test.ts renders a page both ways.
    """
    from werkzeug.test import Client

    response = Client(app).get(
        "/Home",
        headers={
            "x-otterwiki-name": "Anonymous",
            "x-otterwiki-email": "anonymous@localhost",
            "x-otterwiki-permissions": "READ",
        },
    )
    response.close()


def reconfigure():
    """Makes this process, which imported Otterwiki for a placeholder wiki, the process of the
    wiki whose WIKIBOT_* environment is now set (a spare, wiki_child.py).

    `import otterwiki.server` costs a process ~100 ms, most of it building what holds no
    settings (the Flask app, its ~80 routes, the SQLAlchemy models). What it and the modules
    importing it derive from the settings is redone here, in its order, from the settings file
    written as for a fresh import (otterwiki 2.x server.py; helper.py's token serializer,
    auth.py's auth manager). Objects other modules imported by name are re-initialised in
    place. test/otterwiki-spare.test.ts compares the result with a fresh import's.
    """
    global _settings, _PINNED
    import logging

    import otterwiki.auth
    import otterwiki.helper
    import otterwiki.repomgmt
    import otterwiki.server as server
    from itsdangerous import URLSafeTimedSerializer

    _settings = _configure_environment()
    app = otterwiki_app
    app.config.from_pyfile(os.environ["OTTERWIKI_SETTINGS"])
    clash = sorted(set(app.config) & set(os.environ))
    if clash:
        # Otterwiki would let these override its settings; the allowlist keeps them out.
        _fail(f"environment variables named like settings: {', '.join(clash)}")
    app.logger.setLevel(app.config["LOG_LEVEL"])
    logging.getLogger("werkzeug").setLevel(app.config["LOG_LEVEL_WERKZEUG"])

    # Flask-SQLAlchemy builds its engines from the config in init_app, and disposes of the old
    # ones when it runs again (flask_sqlalchemy/extension.py); its teardown is registered once.
    # Flask refuses setup calls after a first request (sansio/app.py _check_setup_finished),
    # and warm_up() made one; this one changes nothing a request in flight could see.
    del app.extensions["sqlalchemy"]
    teardowns = list(app.teardown_appcontext_funcs)
    served = app._got_first_request
    app._got_first_request = False
    try:
        server.db.init_app(app)
    finally:
        app._got_first_request = served
    app.teardown_appcontext_funcs[:] = teardowns

    placeholder = server.storage.repo
    server.storage.__init__(
        app.config["REPOSITORY"],
        allow_external_symlinks=app.config["GIT_ALLOW_EXTERNAL_SYMLINKS"],
    )
    placeholder.close()
    if not server.storage.repo.head.is_valid():
        # A fresh import would commit Otterwiki's own Home page; every wiki has a first commit.
        _fail(f"{app.config['REPOSITORY']} has no commit on its branch")
    # Its git config write is not redone: wikibot's repositories have it (src/repo/repository.ts).
    server.githttpserver.path = app.config["REPOSITORY"]
    otterwiki.repomgmt.initialize_repo_management(server.storage)

    with app.app_context():
        server.db.create_all()
    server.update_app_config()
    otterwiki.helper.mail = server.mail
    server.app_renderer.__init__(config=app.config)
    otterwiki.helper._serializer = URLSafeTimedSerializer(app.config["SECRET_KEY"])
    manager = otterwiki.auth.auth_manager
    if app.config.get("AUTH_METHOD") != "PROXY_HEADER" or not isinstance(
        manager, otterwiki.auth.ProxyHeaderAuth
    ):
        _fail("AUTH_METHOD is not PROXY_HEADER")
    manager.__init__(
        username_header=app.config.get("AUTH_HEADERS_USERNAME"),
        email_header=app.config.get("AUTH_HEADERS_EMAIL"),
        roles_header=app.config.get("AUTH_HEADERS_PERMISSIONS"),
        read_roles=app.config.get("AUTH_ROLES_READ"),
        write_roles=app.config.get("AUTH_ROLES_WRITE"),
        upload_roles=app.config.get("AUTH_ROLES_UPLOAD"),
        admin_roles=app.config.get("AUTH_ROLES_ADMIN"),
    )
    _PINNED = _pinned(_settings)
    app.config.update(_PINNED)


# Endpoints no request may reach, however its path was spelled: a tenant could point the wiki
# at another repository or make the server open connections (repository management, mail),
# manage users, or use Otterwiki's own git server, pull webhook and plugin routes.
_BLOCKED_ENDPOINTS = frozenset(
    {
        "admin_repository_management",
        "admin_user_management",
        "admin_permissions_and_registration",
        "admin_mail_preferences",
        "plugin_url_admin_request",
        "plugin_url_request",
        "pull_webhook",
        "dotgit",
        "git_info_refs",
        "git_upload_pack",
        "git_receive_pack",
    }
)
_ROUTE_ENVIRON_KEY = "HTTP_X_WIKIBOT_ROUTE"
# Headers that would make Otterwiki or a library believe something about the request that only
# the deployment knows (client address, scheme, host); none of them is ours to pass on.
_UNTRUSTED_ENVIRON = re.compile(r"^(HTTP_X_FORWARDED_.*|HTTP_FORWARDED|HTTP_X_REAL_IP|REMOTE_USER)$")
_CLIENT_TRAILER = "Client: browser"
_CONTROL_IN_MESSAGE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _with_client_trailer(message):
    """The commit message with our trailer as its last paragraph (added once)."""
    text = _CONTROL_IN_MESSAGE.sub(" ", str(message or "")).rstrip()
    if text == _CLIENT_TRAILER or text.endswith("\n\n" + _CLIENT_TRAILER):
        return text + "\n"
    if text == "":
        return _CLIENT_TRAILER + "\n"
    return f"{text}\n\n{_CLIENT_TRAILER}\n"


def _install_client_trailer():
    # Every Otterwiki commit (store, commit, revert, delete, rename) ends in IndexFile.commit
    # (otterwiki/gitstorage.py); wrapping it there covers them all, and future ones.
    from git.index.base import IndexFile

    original = IndexFile.commit
    if getattr(original, "_wikibot_trailer", False):
        return

    def commit(self, message, *args, **kwargs):
        return original(self, _with_client_trailer(message), *args, **kwargs)

    commit._wikibot_trailer = True
    IndexFile.commit = commit


_install_client_trailer()


def _refuse(status, text):
    from flask import Response

    return Response(text + "\n", status=status, mimetype="text/plain")


def _route_of(header):
    """`endpoint?urlencoded-args` as the proxy sends it, as (endpoint, {arg: value})."""
    endpoint, _, query = header.partition("?")
    return endpoint, dict(parse_qsl(query, keep_blank_values=True, encoding="utf-8"))


def _check_route():
    """Runs after Flask's routing, before any view: the request goes where the proxy checked."""
    from flask import request

    if request.routing_exception is not None:
        # 404, 405 or a redirect: no view runs, so nothing can be written.
        return None
    if request.endpoint in _BLOCKED_ENDPOINTS:
        return _refuse(403, "Not available on this wiki.")
    if request.method in ("GET", "HEAD"):
        return None
    declared = request.environ.get("wikibot.route")
    actual_args = {key: str(value) for key, value in (request.view_args or {}).items()}
    if declared is None or declared != (request.endpoint, actual_args):
        return _refuse(400, "This request does not match the route it was checked for.")
    return None


# First, before any of Otterwiki's own request hooks.
otterwiki_app.before_request_funcs.setdefault(None, []).insert(0, _check_route)


def app(environ, start_response):
    """Otterwiki behind the checks above, with the identity headers percent-decoded (UTF-8)."""
    otterwiki_app.config.update(_PINNED)
    if environ.get("SCRIPT_NAME", ""):
        # gunicorn has already cut this prefix off PATH_INFO; the path the proxy checked is lost.
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        return [b"SCRIPT_NAME is not accepted.\n"]
    environ["SCRIPT_NAME"] = ""
    for key in [key for key in environ if _UNTRUSTED_ENVIRON.match(key)]:
        del environ[key]
    route = environ.pop(_ROUTE_ENVIRON_KEY, None)
    environ["wikibot.route"] = None if route is None else _route_of(route)
    if _url_scheme is not None:
        environ["wsgi.url_scheme"] = _url_scheme
    for key in _IDENTITY_ENVIRON_KEYS:
        if key in environ:
            environ[key] = _decode_identity(environ[key])
    return otterwiki_app(environ, start_response)


def use_bytecode_cache(directory):
    """Compiled templates on disk, shared by every wiki (the zygote's children).

    Compiling Otterwiki's templates costs a fresh process ~130 ms on its first page; loading
    them compiled costs a few. Entries are keyed by the template source's checksum (so an
    upgrade invalidates them) and written atomically by Jinja.
    """
    if not directory:
        return
    from jinja2 import FileSystemBytecodeCache

    os.makedirs(directory, mode=0o700, exist_ok=True)
    otterwiki_app.jinja_env.bytecode_cache = FileSystemBytecodeCache(directory)
