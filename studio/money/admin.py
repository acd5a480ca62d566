from django.contrib import admin

from .models import PriceCard


@admin.register(PriceCard)
class PriceCardAdmin(admin.ModelAdmin):
    list_display = ["route", "model", "resolution", "audio", "usd_per_second", "withdrawn", "source"]
    list_editable = ["usd_per_second", "withdrawn"]
    list_filter = ["route", "model", "withdrawn"]

    def has_delete_permission(self, request, obj=None) -> bool:
        # A deleted card would come back from the route's prices.json on the next migrate: withdraw it instead.
        return False
