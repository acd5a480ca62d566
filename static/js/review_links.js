// A review link's draft ↔ final page (templates/review/link_pair.html): both clips start, pause and go
// back to the start together, from one bar above them. Each player keeps its own controls; a comment's
// frame seeks both already (static/js/review/comments.js). Without this script the bar stays hidden.

function setup(pair) {
  const bar = pair.querySelector("[data-pair-bar]");
  const videos = [...pair.querySelectorAll("video")];
  if (!bar || videos.length !== 2) return;
  const toggle = bar.querySelector('[data-action="play-both"]');
  const playing = () => videos.some((video) => !video.paused && !video.ended);
  const label = () => { toggle.textContent = playing() ? "Pause both" : "Play both"; };

  toggle.addEventListener("click", () => {
    if (playing()) {
      videos.forEach((video) => video.pause());
      // Two players drift by a frame or two while playing; paused, both show the same moment.
      videos[1].currentTime = Math.min(videos[0].currentTime, videos[1].duration || videos[0].currentTime);
      return;
    }
    // The right side starts where the left one is, so the two run frame for frame.
    const at = videos[0].ended ? 0 : videos[0].currentTime;
    videos.forEach((video) => {
      video.currentTime = Math.min(at, Number.isFinite(video.duration) ? video.duration : at);
      video.play().catch(() => {});
    });
  });
  bar.querySelector('[data-action="restart-both"]').addEventListener("click", () => {
    videos.forEach((video) => { video.pause(); video.currentTime = 0; });
  });
  videos.forEach((video) => ["play", "pause", "ended"].forEach((name) => video.addEventListener(name, label)));
  bar.hidden = false;
  label();
}

document.querySelectorAll("[data-pair]").forEach(setup);
