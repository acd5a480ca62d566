// The compare page's controls: one transport for two clips, the wipe, the
// keys. How the two players are kept on one clock is sync.js's business; this
// file turns clicks, drags and keys into its moves and shows where they are.
import { changesOnly, clamp, timecode } from "./frames.js";
import { createSync } from "./sync.js";

const WIPE_STEP = 1;
const WIPE_BIG_STEP = 10;

function setup(root) {
  const fps = Number(root.dataset.fps) || 24;
  const stage = root.querySelector('[data-role="stage"]');
  const sides = [...stage.querySelectorAll(".compare-side")];
  const bars = [...root.querySelectorAll(".side-bar")];
  const videos = sides.map((side) => side.querySelector("video"));
  const divider = root.querySelector('[data-role="divider"]');
  const seek = root.querySelector('[data-action="seek"]');
  const toggleButton = root.querySelector('[data-action="toggle"]');
  const loopButton = root.querySelector('[data-action="loop"]');
  const timeOut = root.querySelector('[data-role="time"]');
  const lengthOut = root.querySelector('[data-role="length"]');
  const frameOut = root.querySelector('[data-role="frame"]');
  const messageOut = root.querySelector('[data-role="message"]');

  const view = {
    mode: "side",
    wipe: 50,
    scrubbing: false,
    resumeAfterScrub: false,
  };
  const sync = createSync(videos, { fps, onChange: render, onPlayed: explain });

  // --- What the page shows -------------------------------------------------

  // Called on every animation frame while playing: only what changed is written.
  const show = changesOnly();

  function render() {
    const count = sync.frameCount();
    const frame = sync.frame();
    show("time", frame, (f) => { timeOut.value = timecode(f, fps); });
    // Counted from 0, like the frames part of the timecode.
    show("frame", frame + "/" + count, () => { frameOut.textContent = "frame " + frame + " / " + (count - 1); });
    show("length", count, (n) => {
      lengthOut.textContent = timecode(n, fps);
      seek.max = String(n - 1);
    });
    if (!view.scrubbing) show("seek", frame, (f) => { seek.value = String(f); });
    show("playing", sync.playing, (playing) => {
      root.classList.toggle("is-playing", playing);
      toggleButton.setAttribute("aria-label", playing ? "Pause both" : "Play both");
    });
    show("swapped", sync.swapped, showSides);
    show("rate", sync.rate, showRate);
    // Both players are being moved: what the transport says is about to change.
    show("busy", sync.busy, (busy) => root.setAttribute("aria-busy", String(busy)));
  }

  function showSides(swapped) {
    const positions = swapped ? ["right", "left"] : ["left", "right"];
    [sides, bars].forEach((group) => group.forEach((el) => {
      el.dataset.position = positions[Number(el.dataset.clip)];
      el.querySelector('[data-role="tag"]').textContent = el.dataset.position === "left" ? "A" : "B";
    }));
    root.querySelectorAll("[data-orientation]").forEach((notes) => {
      notes.hidden = (notes.dataset.orientation === "ba") !== swapped;
    });
  }

  function showMode() {
    root.dataset.mode = view.mode;
    divider.hidden = view.mode !== "wipe";
    root.querySelectorAll('[data-action="mode"]').forEach((button) => {
      button.setAttribute("aria-pressed", String(button.dataset.mode === view.mode));
    });
  }

  function showRate(rate) {
    root.querySelectorAll('[data-action="rate"]').forEach((button) => {
      button.setAttribute("aria-pressed", String(Number(button.dataset.rate) === rate));
    });
  }

  function explain(error) {
    messageOut.textContent = !error ? ""
      : error.name === "NotAllowedError" ? "The browser wants a click before it plays sound: press Play."
      : "A clip could not be played (" + error.message + ").";
  }

  function setMode(mode) {
    view.mode = mode === "wipe" ? "wipe" : "side";
    showMode();
  }

  function setLoop(on) {
    sync.setLoop(on);
    loopButton.setAttribute("aria-pressed", String(sync.loop));
  }

  // --- Wipe ----------------------------------------------------------------

  function setWipe(percent) {
    view.wipe = clamp(percent, 0, 100);
    const rounded = Math.round(view.wipe * 10) / 10;
    stage.style.setProperty("--wipe", rounded + "%");
    divider.setAttribute("aria-valuenow", String(Math.round(rounded)));
    divider.setAttribute("aria-valuetext", Math.round(rounded) + "% from the left");
  }

  let dragging = null;
  function wipeTo(event) {
    const box = stage.getBoundingClientRect();
    setWipe(((event.clientX - box.left) / box.width) * 100);
  }
  stage.addEventListener("pointerdown", (event) => {
    if (view.mode !== "wipe" || event.button !== 0) return;
    dragging = event.pointerId;
    stage.setPointerCapture(event.pointerId);
    wipeTo(event);
    divider.focus({ preventScroll: true });
    event.preventDefault();
  });
  stage.addEventListener("pointermove", (event) => {
    if (event.pointerId === dragging) wipeTo(event);
  });
  const endDrag = (event) => {
    if (event.pointerId === dragging) dragging = null;
  };
  stage.addEventListener("pointerup", endDrag);
  stage.addEventListener("pointercancel", endDrag);
  divider.addEventListener("keydown", (event) => {
    const by = event.shiftKey ? WIPE_BIG_STEP : WIPE_STEP;
    const moves = { ArrowLeft: -by, ArrowDown: -by, ArrowRight: by, ArrowUp: by, PageDown: -WIPE_BIG_STEP, PageUp: WIPE_BIG_STEP };
    if (event.key in moves) setWipe(view.wipe + moves[event.key]);
    else if (event.key === "Home") setWipe(0);
    else if (event.key === "End") setWipe(100);
    else return;
    event.preventDefault();
  });

  // --- Controls ------------------------------------------------------------

  root.addEventListener("click", (event) => {
    const control = event.target.closest("[data-action]");
    if (!control) {
      // In side by side a click on a picture plays or pauses both; in wipe it moves the line.
      if (event.target.tagName === "VIDEO" && view.mode === "side") sync.toggle();
      return;
    }
    const bar = control.closest(".side-bar");
    switch (control.dataset.action) {
      case "toggle": sync.toggle(); break;
      case "step-back": sync.step(-1); break;
      case "step-forward": sync.step(1); break;
      case "rate": sync.setRate(control.dataset.rate); break;
      case "loop": setLoop(!sync.loop); break;
      case "mode": setMode(control.dataset.mode); break;
      case "swap": sync.swap(); break;
      case "mute": {
        const video = videos[Number(bar.dataset.clip)];
        video.muted = !video.muted;
        break;
      }
      default: return;
    }
    // After a mouse click, give the keys back to the page so Space means
    // play/pause, not "press the last button again". Keyboard users keep focus.
    if (event.detail > 0 && control.tagName === "BUTTON") control.blur();
  });

  // Another part of the page (a comment's frame: js/review/comments.js) sends both players to a frame.
  root.addEventListener("review:seek-frame", (event) => sync.seekToFrame(Number(event.detail.frame), "pause"));

  // Scrubbing pauses both; letting go plays on if they were playing.
  seek.addEventListener("input", () => {
    let after = "keep";
    if (!view.scrubbing) {
      view.scrubbing = true;
      if (sync.playing) {
        view.resumeAfterScrub = true;
        after = "pause";
      }
    }
    sync.seekToFrame(Number(seek.value), after);
  });
  seek.addEventListener("change", () => {
    view.scrubbing = false;
    if (view.resumeAfterScrub) {
      view.resumeAfterScrub = false;
      sync.play();
    }
  });

  bars.forEach((bar) => {
    const video = videos[Number(bar.dataset.clip)];
    const mute = bar.querySelector('[data-action="mute"]');
    const volume = bar.querySelector('[data-action="volume"]');
    if (!mute || !volume) return;
    volume.addEventListener("input", () => {
      video.volume = Number(volume.value);
      if (video.volume > 0) video.muted = false;
    });
    video.addEventListener("volumechange", () => {
      mute.setAttribute("aria-pressed", String(video.muted));
      bar.classList.toggle("is-muted", video.muted || video.volume === 0);
      volume.value = String(video.muted ? 0 : video.volume);
    });
  });

  sides.forEach((side) => {
    const video = side.querySelector("video");
    const status = side.querySelector('[data-role="status"]');
    const loaded = () => {
      side.classList.remove("is-loading");
      status.textContent = "";
    };
    if (video.readyState >= 2) loaded();
    video.addEventListener("loadeddata", loaded);
    video.addEventListener("error", () => {
      side.classList.remove("is-loading");
      side.classList.add("is-broken");
      status.textContent = "This clip could not be loaded.";
    });
  });

  // Keys: Space plays or pauses, ← and → step one frame, [ and ] swap sides.
  // A key goes to the page only if the focused control has no use for it:
  // text fields keep every key, sliders keep their arrows, buttons and
  // links keep Space and Enter.
  function keyBelongsTo(target, key) {
    if (!(target instanceof Element)) return false;
    if (target.isContentEditable) return true;
    const tag = target.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    if (tag === "INPUT" && target.type !== "range") return true;
    if (tag === "INPUT" || target.getAttribute("role") === "slider") return key.startsWith("Arrow") || key === "Home" || key === "End" || key.startsWith("Page");
    if (tag === "BUTTON" || tag === "A" || tag === "SUMMARY") return key === " " || key === "Enter";
    return false;
  }

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (keyBelongsTo(event.target, event.key)) return;
    switch (event.key) {
      case " ":
        if (!event.repeat) sync.toggle();
        break;
      case "ArrowLeft": sync.step(-1); break;
      case "ArrowRight": sync.step(1); break;
      case "[":
      case "]":
        if (!event.repeat) sync.swap();
        break;
      default: return;
    }
    event.preventDefault();
  });

  // Animation frames stop in a hidden tab while sound plays on; line up on return.
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && sync.playing) sync.lineUp();
  });
  // Headset buttons and the system's media keys drive both players, not one.
  if ("mediaSession" in navigator) {
    navigator.mediaSession.setActionHandler("play", () => sync.play());
    navigator.mediaSession.setActionHandler("pause", () => sync.pause());
  }

  // Posters show while the clips load; once both can show a frame, line them
  // up where the transport is (the start, unless someone was quicker).
  Promise.all(videos.map((video) => (video.readyState >= 2
    ? Promise.resolve()
    : new Promise((resolve) => video.addEventListener("loadeddata", resolve, { once: true })))))
    .then(() => sync.lineUp());

  setWipe(view.wipe);
  showMode();
  render();
}

// Module scripts run once the page is parsed; the check keeps that true if
// this one is ever loaded some other way.
function setupAll() {
  document.querySelectorAll("[data-compare]").forEach(setup);
}
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setupAll);
else setupAll();
