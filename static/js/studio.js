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
  // Unticking a kept image removes its id from the hidden field the server reads.
  window.dailiesKeepImages = function (form, slot) {
    const ids = [...form.querySelectorAll(`input[data-keeps="${slot}"]:checked`)].map((box) => box.value);
    form.querySelector(`input[name="${slot}"]`).value = ids.join(",");
  };
})();
