"""The one table of provider routes: slug → the dotted path of its adapter class.

Each route is a package `studio/providers/<package>/` with `adapter.py` (the
`Route` subclass), `simulator.py` (its offline twin, mounted under
`/simulator/<slug>/`), `prices.json` (its price cards, as data) and its tests.
Adding a route is one new folder and one line here (README, "Adding a route").

Modules are imported by path when first asked for, like healthchecks'
`TRANSPORTS`: nothing imports every route up front, so no import cycle can
form through this table.
"""

from __future__ import annotations

import functools
import json
from importlib import import_module
from importlib.resources import files
from typing import TYPE_CHECKING

from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from .base import Route

ROUTES = {
    "videos-gateway": "studio.providers.videos_gateway.adapter.VideosGateway",
    "aggregator": "studio.providers.aggregator.adapter.Aggregator",
    "gemini": "studio.providers.gemini.adapter.Gemini",
    "tasks-api": "studio.providers.tasks_api.adapter.TasksApi",
    "openai-video": "studio.providers.openai_video.adapter.OpenAIVideo",
    "google-cloud": "studio.providers.google_cloud.adapter.GoogleCloud",
}


@functools.cache
def get_route(slug: str) -> Route:
    """The route's adapter (one instance per process: adapters hold no state)."""
    try:
        path = ROUTES[slug]
    except KeyError:
        raise LookupError(f"No provider route called {slug!r}.") from None
    route = import_string(path)()
    if route.slug != slug:
        raise LookupError(f"{path} says its slug is {route.slug!r}, but the table files it as {slug!r}.")
    return route


def route_name(slug: str) -> str:
    """A route in plain words ("Google Gemini API"); a route no longer in the table keeps its slug."""
    try:
        return get_route(slug).name
    except LookupError:
        return slug


def routes_that_extend() -> list[str]:
    """The names of the routes on which some model can extend a clip, in the table's order."""
    return [route.name for route in map(get_route, ROUTES) if route.extends_clips]


def route_choices() -> list[tuple[str, str]]:
    return [(slug, get_route(slug).name) for slug in ROUTES]


def package_of(slug: str) -> str:
    """`studio.providers.<package>`: where the route's simulator, prices and tests live."""
    return ROUTES[slug].rpartition(".adapter.")[0]


def simulator_of(slug: str):
    """The route's simulator module (its `urlpatterns` are mounted under /simulator/<slug>/)."""
    return import_module(f"{package_of(slug)}.simulator")


def price_data(slug: str) -> dict:
    """The route's `prices.json`: {"source", "note", "cards": [{model, resolution, audio, usd_per_second, source?}]}.

    Every route has one (`"cards": []` when it publishes no price), so a
    missing file is a packaging mistake and fails loudly.
    """
    return json.loads(files(package_of(slug)).joinpath("prices.json").read_text(encoding="utf-8"))
