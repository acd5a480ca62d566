"""`{% project_playlists project as playlists %}`: the playlist choice beside the gallery's and the clip
page's "Add to playlist", without those views having to know about playlists."""

from __future__ import annotations

from django import template

from studio.review.playlists import playlists_of

register = template.Library()


@register.simple_tag
def project_playlists(project) -> list:
    return list(playlists_of(project).values("pk", "name"))
