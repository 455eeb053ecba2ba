"""gunicorn settings for a wiki's Otterwiki (passed with --config by otterwiki-process.ts).

The Bun proxy is the only peer of the unix socket, and gunicorn trusts a unix-socket peer
unconditionally (gunicorn/http/message.py `_peer_is_trusted_proxy`; `forwarded_allow_ips` does
not apply to it). What the proxy forwards began as a client's request, so nothing in it may
change the WSGI environment beyond plain HTTP_* headers: no SCRIPT_NAME or PATH_INFO from a
header (the default `forwarder_headers`; gunicorn cut SCRIPT_NAME off the path, issue 8), no
scheme from X-Forwarded-Proto & co. (our WSGI wrapper sets it from WIKIBOT_URL_SCHEME), and any
other header with an underscore is dropped rather than mapped.
"""

forwarder_headers = ""
secure_scheme_headers = {}
forwarded_allow_ips = ""
header_map = "drop"
proxy_protocol = "off"
