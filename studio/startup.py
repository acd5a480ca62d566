"""What a process that cannot read its settings says: one short message naming every problem, no traceback.

studio/settings.py notes each setting it cannot read and raises one ImproperlyConfigured at its end
with all of them, one a line; manage.py and studio/wsgi.py turn that into this message on stderr.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


def cannot_start(error: ImproperlyConfigured) -> str:
    problems = [line for line in str(error).splitlines() if line.strip()]
    return "Dailies cannot start:\n" + "\n".join(f"  - {problem}" for problem in problems)
