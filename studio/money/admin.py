from django.contrib import admin

from .models import PriceCard


@admin.register(PriceCard)
class PriceCardAdmin(admin.ModelAdmin):
    list_display = ["route", "model", "resolution", "audio", "usd_per_second", "source"]
    list_editable = ["usd_per_second"]
    list_filter = ["route", "model"]
