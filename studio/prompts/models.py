from __future__ import annotations

from django.conf import settings
from django.db import models, transaction

TITLE_MAX_LENGTH = 120


class Prompt(models.Model):
    """A line of thought in a project; its text lives in immutable versions."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="prompts")
    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    def latest_version(self) -> PromptVersion | None:
        return self.versions.order_by("-number").first()

    def record_version(self, *, text: str, negative_prompt: str, author) -> PromptVersion:
        """The version for this text: the newest one if nothing changed, else a new one.

        Versions are never edited, so every clip keeps pointing at the exact
        words that made it.
        """
        with transaction.atomic():
            # Concurrent edits of one prompt queue on its row (SQLite's write
            # lock does the same), so each numbers after the one before it.
            Prompt.objects.select_for_update().filter(pk=self.pk).values_list("pk").first()
            latest = self.latest_version()
            if latest and latest.text == text and latest.negative_prompt == negative_prompt:
                return latest
            return PromptVersion.objects.create(
                prompt=self,
                number=(latest.number + 1) if latest else 1,
                text=text,
                negative_prompt=negative_prompt,
                author=author,
            )

    def restore(self, *, version: PromptVersion, author) -> tuple[PromptVersion, bool]:
        """Make an old version's words the newest again; True if that took a new version.

        History stays append-only: restoring never moves or deletes versions,
        it records the old words once more under the next number.
        """
        if version.prompt_id != self.pk:
            raise ValueError(f"v{version.number} belongs to another prompt.")
        newest_before = self.latest_version()
        restored = self.record_version(text=version.text, negative_prompt=version.negative_prompt, author=author)
        return restored, newest_before is None or restored.pk != newest_before.pk


class PromptVersion(models.Model):
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    text = models.TextField()
    negative_prompt = models.TextField(blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["prompt", "-number"]
        constraints = [models.UniqueConstraint(fields=["prompt", "number"], name="one_number_per_version")]

    def __str__(self) -> str:
        return f"{self.prompt.title} v{self.number}"

    def fork(self, *, author) -> Prompt:
        """A new prompt in the same project that starts from these words.

        The fork's v1 is authored by whoever forked, so the original's history
        and authorship stay untouched.
        """
        suffix = f" (fork of v{self.number})"
        room = TITLE_MAX_LENGTH - len(suffix)
        title = self.prompt.title[:room] + suffix
        with transaction.atomic():
            fork = Prompt.objects.create(project_id=self.prompt.project_id, title=title, created_by=author)
            fork.record_version(text=self.text, negative_prompt=self.negative_prompt, author=author)
        return fork


def record_words(
    *,
    project,
    prompt: Prompt | None,
    text: str,
    negative_prompt: str,
    user,
    base: PromptVersion | None = None,
    name: str = "",
) -> PromptVersion:
    """The prompt version for the editor's words; with no prompt, they start a new one (named `name`,
    or after its first words).

    `base` is the version the editor was filled with: words left as they were
    draft that very version again (an old one recalled stays itself), and words
    changed become the prompt's next version.
    """
    if prompt is None:
        prompt = Prompt.objects.create(project=project, title=name.strip() or prompt_title(text), created_by=user)
    elif base is not None and base.prompt_id == prompt.pk:
        if (base.text, base.negative_prompt) == (text, negative_prompt):
            return base
    return prompt.record_version(text=text, negative_prompt=negative_prompt, author=user)


def prompt_title(text: str) -> str:
    """A new prompt is named after its first words, so the prompt switcher reads like the prompts."""
    words = text.split()
    title = " ".join(words[:8])
    return title + ("…" if len(words) > 8 else "")
