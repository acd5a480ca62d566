from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.decorators.http import require_safe

from studio import health
from studio.clips import views as clips
from studio.images import views as images
from studio.projects import views as projects
from studio.prompts import views as prompts
from studio.providers import views as providers
from studio.review import inbox_views as inbox
from studio.review import link_views as review_links
from studio.review import playlist_views as playlists
from studio.review import views as review
from studio.spend import views as spend
from studio.tasks import views as tasks


@require_safe
def favicon(request):
    """Browsers ask for /favicon.ico on their own, whatever a page links: send them to the collected icon."""
    return redirect(static("img/favicon.ico"))


urlpatterns = [
    path("", projects.project_list, name="project-list"),
    path("login/", projects.sign_in, name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("projects/<int:project_id>/", projects.project_detail, name="project-detail"),
    path("projects/new", projects.project_new, name="project-new"),
    path("projects/<int:project_id>/settings", projects.project_settings, name="project-settings"),
    path("projects/<int:project_id>/archive", projects.project_archive, name="project-archive"),
    path("projects/<int:project_id>/delete", projects.project_delete, name="project-delete"),
    path("projects/<int:project_id>/members/", projects.members, name="members"),
    path("projects/<int:project_id>/activity", projects.project_activity, name="project-activity"),
    path("projects/<int:project_id>/members/<int:membership_id>/role", projects.member_role, name="member-role"),
    path("projects/<int:project_id>/members/<int:membership_id>/remove", projects.member_remove, name="member-remove"),
    path(
        "projects/<int:project_id>/invitations/<int:invitation_id>/revoke",
        projects.invitation_revoke,
        name="invitation-revoke",
    ),
    path("invites/<str:token>", projects.invitation, name="invitation"),
    # Each member's inbox of notifications, across their projects (studio/review/inbox_views.py).
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/read-all", inbox.inbox_read_all, name="inbox-read-all"),
    path("inbox/settings", inbox.inbox_settings, name="inbox-settings"),
    path("inbox/<int:notification_id>/open", inbox.inbox_open, name="inbox-open"),
    # Review links: the project's list, and the guest's pages under /r/<token>/ (studio/review/link_views.py).
    path("projects/<int:project_id>/review-links/", review_links.review_links, name="review-links"),
    path("projects/<int:project_id>/review-links/new", review_links.review_link_new, name="review-link-new"),
    path(
        "projects/<int:project_id>/review-links/<int:link_id>/revoke",
        review_links.review_link_revoke,
        name="review-link-revoke",
    ),
    path(
        "projects/<int:project_id>/review-links/<int:link_id>/feedback",
        review_links.review_link_feedback,
        name="review-link-feedback",
    ),
    path(
        "projects/<int:project_id>/review-links/<int:link_id>/feedback.csv",
        review_links.review_link_feedback_csv,
        name="review-link-feedback-csv",
    ),
    path("r/<str:token>/", review_links.review_link, name="review-link"),
    path("r/<str:token>/clips/<int:clip_id>/", review_links.review_link_clip, name="review-link-clip"),
    path("r/<str:token>/clips/<int:clip_id>/video", review_links.review_link_video, name="review-link-video"),
    path("r/<str:token>/clips/<int:clip_id>/poster", review_links.review_link_poster, name="review-link-poster"),
    path("r/<str:token>/clips/<int:clip_id>/comments", review_links.review_link_comment, name="review-link-comment"),
    path("r/<str:token>/clips/<int:clip_id>/review", review_links.review_link_status, name="review-link-status"),
    path("projects/<int:project_id>/prompts", prompts.library, name="prompt-library"),
    path("prompts/<int:prompt_id>/rename", prompts.rename, name="prompt-rename"),
    # Comments on a clip (studio/review/views.py).
    path("clips/<int:clip_id>/comments", review.comments, name="comments"),
    path("clips/<int:clip_id>/comments/add", review.comment_add, name="comment-add"),
    path("comments/<int:comment_id>/edit", review.comment_edit, name="comment-edit"),
    path("comments/<int:comment_id>/delete", review.comment_delete, name="comment-delete"),
    path("comments/<int:comment_id>/resolve", review.comment_resolve, name="comment-resolve"),
    path("prompts/<int:prompt_id>/history", prompts.history, name="prompt-history"),
    path("prompts/<int:prompt_id>/diff", prompts.diff, name="prompt-diff"),
    path("prompts/<int:prompt_id>/versions/<int:number>/restore", prompts.restore, name="prompt-restore"),
    path("prompts/<int:prompt_id>/versions/<int:number>/fork", prompts.fork, name="prompt-fork"),
    path("projects/<int:project_id>/draft", tasks.draft, name="draft"),
    path("projects/<int:project_id>/draft/form", tasks.draft_form, name="draft-form"),
    path("projects/<int:project_id>/draft/quote", tasks.draft_quote, name="draft-quote"),
    path("projects/<int:project_id>/grids/new", tasks.new_grid, name="new-grid"),
    path("projects/<int:project_id>/grids/quote", tasks.grid_quote, name="grid-quote"),
    path("batches/<int:batch_id>/", tasks.batch_detail, name="batch-detail"),
    path("projects/<int:project_id>/accounts/", providers.account_list, name="provider-accounts"),
    path("projects/<int:project_id>/accounts/add", providers.account_add, name="provider-account-add"),
    path("accounts/<int:account_id>/", providers.account_edit, name="provider-account-edit"),
    path("accounts/<int:account_id>/test", providers.account_test, name="provider-account-test"),
    path("accounts/<int:account_id>/row", providers.account_row, name="provider-account-row"),
    path("projects/<int:project_id>/compare", clips.compare, name="compare"),
    path("projects/<int:project_id>/gallery", clips.gallery, name="gallery"),
    path("projects/<int:project_id>/gallery/zip", clips.gallery_zip, name="gallery-zip"),
    path("projects/<int:project_id>/gallery/star", clips.gallery_star, name="gallery-star"),
    path("projects/<int:project_id>/gallery/review", clips.gallery_review, name="gallery-review"),
    path("projects/<int:project_id>/gallery/compare", clips.gallery_compare, name="gallery-compare"),
    path("clips/<int:clip_id>/compare-pick", clips.compare_pick, name="compare-pick"),
    path("tasks/<int:task_id>/card", tasks.task_card, name="task-card"),
    path("projects/<int:project_id>/live", tasks.live_cards, name="live-cards"),
    path("tasks/<int:task_id>/promote", tasks.promote, name="promote"),
    path("tasks/<int:task_id>/send-again", tasks.send_again, name="send-again"),
    path("tasks/<int:task_id>/extend", tasks.extend, name="extend"),
    path("tasks/<int:task_id>/settle", tasks.settle, name="task-settle"),
    path("projects/<int:project_id>/budget", spend.budget, name="project-budget"),
    path("projects/<int:project_id>/spend", spend.spend, name="spend"),
    path("projects/<int:project_id>/spend.csv", spend.spend_csv, name="spend-csv"),
    path("hooks/tasks/<str:token>", tasks.provider_callback, name="provider-callback"),
    path("clips/<int:clip_id>/", clips.clip_page, name="clip"),
    path("clips/<int:clip_id>/video", clips.clip_video, name="clip-video"),
    path("clips/<int:clip_id>/poster", clips.clip_poster, name="clip-poster"),
    # Playlists, their review page and their feedback as CSV and print (studio/review/playlist_views.py).
    path("projects/<int:project_id>/playlists/", playlists.playlist_list, name="playlists"),
    path("projects/<int:project_id>/playlists/add", playlists.playlist_add, name="playlist-add"),
    path("playlists/<int:playlist_id>/", playlists.playlist_page, name="playlist"),
    path("playlists/<int:playlist_id>/rename", playlists.playlist_rename, name="playlist-rename"),
    path("playlists/<int:playlist_id>/delete", playlists.playlist_delete, name="playlist-delete"),
    path("playlists/<int:playlist_id>/remove", playlists.playlist_remove, name="playlist-remove"),
    path("playlists/<int:playlist_id>/move", playlists.playlist_move, name="playlist-move"),
    path("playlists/<int:playlist_id>/order", playlists.playlist_order, name="playlist-order"),
    path("playlists/<int:playlist_id>/feedback", playlists.playlist_feedback, name="playlist-feedback"),
    path("playlists/<int:playlist_id>/feedback.csv", playlists.playlist_feedback_csv, name="playlist-feedback-csv"),
    path("clips/<int:clip_id>/frames/<int:frame>.jpg", playlists.clip_frame, name="clip-frame"),
    path("images/<int:image_id>/thumbnail", images.thumbnail, name="image-thumbnail"),
    path("i/<str:token>", images.public_image, name="image-public"),
    # For load balancers: no login, no secrets (studio/health.py).
    path("healthz", health.healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
]

# The built-in simulator only where it is on (SIMULATOR_ENABLED): elsewhere its URLs do not exist.
if settings.SIMULATOR_ENABLED:
    urlpatterns += [path("simulator/", include("studio.simulator.urls"))]
