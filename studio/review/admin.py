from django.contrib import admin

from .models import Comment, Notification, Playlist, ReviewLink


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ("pk", "clip", "author", "guest_name", "frame_in", "created_at", "resolved_at")
    raw_id_fields = ("clip", "parent", "author", "review_link", "project")


@admin.register(ReviewLink)
class ReviewLinkAdmin(admin.ModelAdmin):
    list_display = ("pk", "project", "kind", "title", "expires_at", "revoked_at", "last_used_at")
    exclude = ("token_sha256", "password")


admin.site.register(Playlist)
admin.site.register(Notification)
