from __future__ import annotations

from django.db import models

# As long as an IPv6 address can be written.
ADDRESS_CHARS = 45


class LinkMisses(models.Model):
    """How many unknown tokens one client address tried on one kind of link, in a window from its first miss.

    Only open windows are kept: starting one deletes every ended one. An owner unlocks an address at once
    by deleting its row in the admin.
    """

    link = models.CharField(max_length=40)
    address = models.CharField(max_length=ADDRESS_CHARS, blank=True)
    misses = models.PositiveIntegerField(default=0)
    window_ends = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name_plural = "link misses"
        constraints = [models.UniqueConstraint(fields=["link", "address"], name="one_count_per_link_and_address")]

    def __str__(self) -> str:
        return f"{self.misses} unknown {self.link} from {self.address or 'an unknown address'}"
