"""The operations console: one place to see and steer the engine, in a browser.

Server-rendered pages (Flask blueprints under :mod:`.pages`, Jinja templates shipped with the
package), plain links and forms, charts as inline SVG, one small script that only asks for a
confirmation before bulk actions. Sign-in with the users of ``CONSOLE_USERS`` (:mod:`.users`),
sessions and CSRF tokens in Redis (:mod:`.sessions`), viewers refused with 403 on any change
(:mod:`.security`), every action audited in the dead-letter queue's audit (:mod:`.audit`).

``python -m sync_workers.console`` serves it with gunicorn on ``CONSOLE_ADDRESS:CONSOLE_PORT``;
:func:`sync_workers.console.app.create_app` builds the Flask app (tests, other WSGI servers).
This module imports nothing, so the settings can use :mod:`.users` without loading Flask.
"""
