// Small behaviours for the studio pages; everything else is server-rendered HTMX.
(function () {
  "use strict";
  // Grid and group cells preview their clip on hover, silently.
  document.addEventListener("mouseover", (event) => {
    const video = event.target.closest && event.target.closest("video[data-hover-preview]");
    if (video && video.paused) video.play().catch(() => {});
  });
  document.addEventListener("mouseout", (event) => {
    const video = event.target.closest && event.target.closest("video[data-hover-preview]");
    if (video && !video.contains(event.relatedTarget)) { video.pause(); video.currentTime = 0; }
  });
  // The page's one refresh asks only while some card on it is still in flight (tasks/_live_cards.html).
  window.dailiesFollowsCards = () => document.querySelector("input.live-card") !== null;
  // Live cards count their seconds here; the server sends a card again only when what it shows changes.
  setInterval(() => {
    const now = Date.now() / 1000;
    for (const clock of document.querySelectorAll("[data-role=elapsed][data-since]")) {
      clock.textContent = `${Math.max(0, Math.round(now - Number(clock.dataset.since)))} s`;
    }
  }, 1000);
  // Unticking a kept image removes its id from the hidden field the server reads.
  window.dailiesKeepImages = function (form, slot) {
    const ids = [...form.querySelectorAll(`input[data-keeps="${slot}"]:checked`)].map((box) => box.value);
    form.querySelector(`input[name="${slot}"]`).value = ids.join(",");
  };
})();
