from django.contrib import admin

from .models import LinkMisses


@admin.register(LinkMisses)
class LinkMissesAdmin(admin.ModelAdmin):
    list_display = ["address", "link", "misses", "window_ends"]
    list_filter = ["link"]
    search_fields = ["address"]
