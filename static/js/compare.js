// Two players, one transport. Player A leads; B follows A's clock, nudged by
// playback rate for small drift and re-seeked for large drift, so the two stay
// within a frame without visible jumps.
(function () {
  "use strict";
  const HARD_DRIFT = 0.15; // seconds: beyond this, seek B onto A
  const SOFT_DRIFT = 1 / 48; // half a frame at 24 fps: beyond this, nudge B's rate

  function setup(root) {
    const a = root.querySelector('video[data-side="a"]');
    const b = root.querySelector('video[data-side="b"]');
    const toggle = root.querySelector('[data-action="toggle"]');
    const seek = root.querySelector('[data-action="seek"]');
    const time = root.querySelector('[data-role="time"]');
    let scrubbing = false;

    const length = () => Math.max(a.duration || 0, b.duration || 0) || 0;
    const playing = () => !a.paused;

    function show() {
      const t = a.currentTime;
      time.textContent = t.toFixed(2) + " s";
      if (!scrubbing && length()) seek.value = Math.round((t / length()) * 1000);
      toggle.textContent = playing() ? "Pause" : "Play";
      toggle.setAttribute("aria-label", playing() ? "Pause both" : "Play both");
    }

    function follow() {
      if (playing() && !b.seeking && !a.seeking) {
        const drift = b.currentTime - a.currentTime;
        if (Math.abs(drift) > HARD_DRIFT) {
          b.currentTime = a.currentTime;
        } else if (Math.abs(drift) > SOFT_DRIFT) {
          b.playbackRate = a.playbackRate * (drift > 0 ? 0.95 : 1.05);
        } else {
          b.playbackRate = a.playbackRate;
        }
      }
      show();
      requestAnimationFrame(follow);
    }

    async function play() {
      b.currentTime = a.currentTime;
      await Promise.all([a.play(), b.play()]).catch(() => {});
    }

    function pause() {
      a.pause();
      b.pause();
      b.currentTime = a.currentTime;
    }

    function seekTo(t) {
      a.currentTime = t;
      b.currentTime = Math.min(t, b.duration || t);
    }

    toggle.addEventListener("click", () => (playing() ? pause() : play()));
    seek.addEventListener("input", () => {
      scrubbing = true;
      seekTo((seek.value / 1000) * length());
    });
    seek.addEventListener("change", () => { scrubbing = false; });
    a.addEventListener("ended", () => { b.pause(); });
    // Either player's own controls would break the pairing: keep them hidden and
    // let clicks on a picture toggle both.
    [a, b].forEach((v) => v.addEventListener("click", () => (playing() ? pause() : play())));

    root.dailies = { a, b, play, pause, seekTo };
    requestAnimationFrame(follow);
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-compare]").forEach(setup);
  });
})();
