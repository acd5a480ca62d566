"""gunicorn's access log without the secrets some paths carry (`serve` passes it as --logger-class).

Kept apart from `studio.logs` so Django's settings never import gunicorn.
"""

from __future__ import annotations

from gunicorn.glogging import Logger

from .logs import hide_keys


class AccessLogWithoutTokens(Logger):
    """Each access line's path, query and request line with link tokens and keys masked."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name in ("r", "U", "q"):
            if isinstance(atoms.get(name), str):
                atoms[name] = hide_keys(atoms[name])
        return atoms
