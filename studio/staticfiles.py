"""Static files in production: hashed names (cached for good), compressed, served by WhiteNoise."""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage  # type: ignore[import-untyped]

# `import … from "./frames.js";` (or "../compare/frames.js") in a module of ours.
_RELATIVE_IMPORT = r"""(?P<matched>import(?s:(?P<import>[\s\{].*?))\s*from\s*["'](?P<url>\.\.?/.*?)["']\s*;)"""


class StaticFiles(CompressedManifestStaticFilesStorage):
    """The compare player's modules import each other by relative paths. collectstatic rewrites those
    imports in our own scripts (static/js/) to the hashed names, so the page needs no inline import map,
    which the CSP would refuse. (Django's own switch for this, support_js_module_import_aggregation,
    rewrites every library's scripts too, and trips over their imports.)"""

    patterns = (
        *CompressedManifestStaticFilesStorage.patterns,
        ("js/*.js", ((_RELATIVE_IMPORT, 'import%(import)s from "%(url)s";'),)),
    )
