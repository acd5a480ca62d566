#!/usr/bin/env python3
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    from studio.startup import cannot_start

    try:
        settings.INSTALLED_APPS  # noqa: B018 -- reads the settings, which name every problem at once
    except ImproperlyConfigured as error:
        sys.exit(cannot_start(error))
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
