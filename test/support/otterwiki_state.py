"""Prints, as JSON, everything an Otterwiki process derived from its wiki's settings, and the
HTML of one page it renders, for test/otterwiki-spare.test.ts to compare a fresh import with a
spare's reconfigure().

  otterwiki_state.py fresh <wiki-env.json> <page>
  otterwiki_state.py spare <wiki-env.json> <page> <placeholder-repository> <spare-folder>

"fresh" imports the wrapper with the wiki's environment, as a child forked for the wiki does;
"spare" imports it for the placeholder wiki and views a page of it first, then takes on the
wiki's environment and calls reconfigure(), as a spare does (wiki_child.py).
"""

import hashlib
import json
import logging
import os
import re
import sys

WRAPPER_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "src", "wiki", "otterwiki")
sys.path.insert(0, os.path.abspath(WRAPPER_DIR))


def _digest(value):
    data = value if isinstance(value, bytes) else str(value).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def _repr(value):
    # A set's order differs between processes (string hashing is seeded per process).
    if isinstance(value, (set, frozenset)):
        return repr(sorted(value, key=repr))
    return repr(value)


def _state(page):
    import wikibot_wsgi
    import otterwiki.auth
    import otterwiki.helper
    import otterwiki.repomgmt
    import otterwiki.server as server

    app = server.app
    with app.app_context():
        engines = {str(key): [str(engine.url), type(engine.pool).__name__] for key, engine in server.db.engines.items()}
    config = {key: _repr(value) for key, value in app.config.items()}
    config["SECRET_KEY"] = _digest(app.config["SECRET_KEY"])
    manager = otterwiki.auth.auth_manager
    renderer = server.app_renderer
    state = {
        "config": config,
        "environ": {key: value for key, value in os.environ.items()},
        "storage": [
            server.storage.path,
            server.storage.repo.working_dir,
            server.storage.allow_external_symlinks,
        ],
        "engines": engines,
        "teardowns": len(app.teardown_appcontext_funcs),
        "serializer": [_digest(key) for key in otterwiki.helper._serializer.secret_keys],
        "renderer": [
            renderer.env["config"] is app.config,
            repr(renderer.md_renderer.custom_tags),
            repr(renderer.md_renderer.custom_attributes),
        ],
        "auth": [type(manager).__name__, repr(sorted(vars(manager).items()))],
        "mail": [
            otterwiki.helper.mail is server.mail,
            repr(sorted(vars(app.extensions["mail"]).items())),
        ],
        "githttpserver": server.githttpserver.path,
        "repo_manager": otterwiki.repomgmt.get_repo_manager().storage is server.storage,
        "log_levels": [app.logger.level, logging.getLogger("werkzeug").level],
        "wrapper": [
            repr(sorted(wikibot_wsgi._PINNED.items())),
            wikibot_wsgi._anonymous_email,
            wikibot_wsgi._url_scheme,
        ],
    }
    client = app.test_client()
    response = client.get(
        "/" + page,
        headers={
            "x-otterwiki-name": "Reader",
            "x-otterwiki-email": "reader@example.org",
            "x-otterwiki-permissions": "READ",
        },
    )
    html = response.get_data(as_text=True)
    # A fresh CSRF token per render; everything else must be the same.
    html = re.sub(r'(csrf_token" value|name="csrf-token" content)="[^"]*"', r"\1", html)
    state["page"] = [response.status_code, html]
    return state


def main():
    mode, env_file, page = sys.argv[1:4]
    with open(env_file, encoding="utf-8") as handle:
        wiki_env = json.load(handle)
    if mode == "fresh":
        os.environ.clear()
        os.environ.update(wiki_env)
        import wikibot_wsgi  # noqa: F401
    elif mode == "spare":
        import wiki_child

        placeholder, folder = sys.argv[4:6]
        os.makedirs(folder, mode=0o700)
        os.environ.update(wiki_child._placeholder_environment({"repository": placeholder}, folder))
        import wikibot_wsgi

        wikibot_wsgi.warm_up()
        os.environ.clear()
        os.environ.update(wiki_env)
        wikibot_wsgi.reconfigure()
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(_state(page)))


if __name__ == "__main__":
    main()
