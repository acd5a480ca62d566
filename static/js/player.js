// The clip player used everywhere a clip plays outside the compare page
// (templates/clips/_player.html): our own compact controls instead of the
// browser's. Without this script the <video> keeps the browser's controls.
//
// Play/pause, a scrubber (click or drag), one-frame steps at the clip's own
// frame rate, loop, mute, full screen, a timecode and frame readout. Keys
// while the player has focus: Space, ← →, L, M, F. Hovering a paused clip
// scrubs it (pointer x → time); leaving puts it back where it was, and a
// click keeps the moment found. Cards swapped in by htmx set themselves up
// as they arrive.
import { changesOnly, clamp, frameCount, frameOf, timeOfFrame, timecode } from "./compare/frames.js";

const players = new WeakMap();

function setup(root) {
  if (players.has(root)) return;
  const video = root.querySelector("video");
  if (!video) return;
  const fps = Number(root.dataset.fps) || 24;
  // Timecodes count whole frames a second (29.97 fps shows as 30 a second, as editors do).
  const nominal = Math.max(1, Math.round(fps));
  const stage = root.querySelector('[data-role="stage"]');
  const scrub = root.querySelector('[data-role="scrub"]');
  const played = root.querySelector('[data-role="played"]');
  const buffered = root.querySelector('[data-role="buffered"]');
  const timeOut = root.querySelector('[data-role="time"]');
  const frameOut = root.querySelector('[data-role="frame"]');
  const toggleButton = root.querySelector('[data-action="toggle"]');
  const state = { hover: null, dragging: null, resumeAfterDrag: false, pending: null, target: null };
  players.set(root, state);

  video.controls = false;
  root.classList.add("is-ready");

  const duration = () => (Number.isFinite(video.duration) && video.duration > 0 ? video.duration : Number(root.dataset.duration) || 0);
  const count = () => frameCount(duration(), fps);
  // While a seek is under way, show where it is going, not where the picture still is.
  const shownTime = () => (state.target ?? video.currentTime);

  // --- What the player shows ----------------------------------------------

  const show = changesOnly();

  function render() {
    const total = count();
    const frame = Math.min(frameOf(shownTime(), fps), total - 1);
    show("time", frame, (f) => { timeOut.textContent = timecode(f, nominal); });
    if (frameOut) show("frame", frame + "/" + total, () => { frameOut.textContent = `${frame} / ${total - 1}`; });
    const length = duration();
    const fraction = length > 0 ? clamp(shownTime() / length, 0, 1) : 0;
    show("played", Math.round(fraction * 1000), (permille) => {
      played.style.width = permille / 10 + "%";
      scrub.setAttribute("aria-valuenow", String(frame));
      scrub.setAttribute("aria-valuetext", timecode(frame, nominal) + ", frame " + frame);
    });
    show("max", total, (n) => scrub.setAttribute("aria-valuemax", String(n - 1)));
    const playing = !video.paused && !video.ended;
    show("playing", playing, (on) => {
      root.classList.toggle("is-playing", on);
      toggleButton.setAttribute("aria-label", on ? "Pause" : "Play");
    });
    show("loop", video.loop, (on) => root.querySelector('[data-action="loop"]').setAttribute("aria-pressed", String(on)));
    show("muted", video.muted, (on) => {
      root.classList.toggle("is-muted", on);
      root.querySelector('[data-action="mute"]').setAttribute("aria-pressed", String(on));
    });
  }

  function renderBuffered() {
    const length = duration();
    const ranges = video.buffered;
    const end = ranges.length ? ranges.end(ranges.length - 1) : 0;
    buffered.style.width = (length > 0 ? clamp(end / length, 0, 1) * 100 : 0) + "%";
  }

  // Smooth while playing: the playhead moves every animation frame, not every timeupdate.
  let ticking = false;
  function tick() {
    render();
    if (!video.paused) requestAnimationFrame(tick);
    else ticking = false;
  }
  video.addEventListener("play", () => {
    if (!ticking) { ticking = true; requestAnimationFrame(tick); }
  });
  for (const name of ["pause", "ended", "timeupdate", "loadedmetadata", "volumechange", "durationchange"]) {
    video.addEventListener(name, render);
  }
  video.addEventListener("progress", renderBuffered);
  video.addEventListener("loadeddata", renderBuffered);

  // --- Moving the picture ---------------------------------------------------

  // One seek at a time: a drag or a hover asks faster than frames decode, so
  // only the newest ask waits for the seek under way.
  function seek(time) {
    const to = clamp(time, 0, Math.max(0, duration() - 0.5 / fps));
    state.target = to;
    if (video.readyState < 1) {
      state.pending = to;
      load();
    } else if (video.seeking) {
      state.pending = to;
    } else {
      video.currentTime = to;
    }
    render();
  }
  video.addEventListener("seeked", () => {
    if (state.pending !== null) {
      const next = state.pending;
      state.pending = null;
      video.currentTime = next;
    } else {
      state.target = null;
      render();
    }
  });
  video.addEventListener("loadedmetadata", () => {
    if (state.pending !== null) {
      const next = state.pending;
      state.pending = null;
      video.currentTime = next;
    }
  });

  // Gallery posters load nothing until someone looks closer.
  function load() {
    if (video.preload === "none") {
      video.preload = "auto";
      video.load();
    }
  }

  function play() {
    commitHover();
    if (video.ended || frameOf(video.currentTime, fps) >= count() - 1) video.currentTime = 0;
    video.play().catch(() => {});
  }
  function pause() {
    video.pause();
  }
  function toggle() {
    if (video.paused || video.ended) play();
    else pause();
  }
  function step(frames) {
    commitHover();
    pause();
    const from = frameOf(shownTime(), fps);
    seek(timeOfFrame(from + frames, count(), fps));
  }
  function setLoop(on) {
    video.loop = on;
    render();
  }
  function setMuted(on) {
    video.muted = on;
  }
  function fullScreen() {
    if (document.fullscreenElement === root) document.exitFullscreen().catch(() => {});
    else if (root.requestFullscreen) root.requestFullscreen().catch(() => {});
  }

  // --- Hover scrub --------------------------------------------------------

  function timeAt(event, box) {
    return clamp((event.clientX - box.left) / box.width, 0, 1) * duration();
  }
  function commitHover() {
    state.hover = null;
  }
  stage.addEventListener("pointermove", (event) => {
    if (event.pointerType !== "mouse" || state.dragging !== null) return;
    if (!video.paused && state.hover === null) return;
    if (state.hover === null) {
      state.hover = { restore: video.currentTime };
      load();
    }
    root.classList.add("is-hover-scrubbing");
    seek(timeAt(event, stage.getBoundingClientRect()));
  });
  stage.addEventListener("pointerleave", () => {
    root.classList.remove("is-hover-scrubbing");
    if (state.hover === null) return;
    const { restore } = state.hover;
    state.hover = null;
    seek(restore);
  });
  stage.addEventListener("click", () => {
    root.focus({ preventScroll: true });
    toggle();
  });
  stage.addEventListener("dblclick", fullScreen);

  // --- Scrubber: click or drag ----------------------------------------------

  scrub.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    commitHover();
    state.dragging = event.pointerId;
    state.resumeAfterDrag = !video.paused;
    pause();
    scrub.setPointerCapture(event.pointerId);
    root.classList.add("is-scrubbing");
    seek(timeAt(event, scrub.getBoundingClientRect()));
    root.focus({ preventScroll: true });
    event.preventDefault();
  });
  scrub.addEventListener("pointermove", (event) => {
    if (event.pointerId === state.dragging) seek(timeAt(event, scrub.getBoundingClientRect()));
  });
  const endDrag = (event) => {
    if (event.pointerId !== state.dragging) return;
    state.dragging = null;
    root.classList.remove("is-scrubbing");
    if (state.resumeAfterDrag) play();
  };
  scrub.addEventListener("pointerup", endDrag);
  scrub.addEventListener("pointercancel", endDrag);

  // --- Buttons and keys -----------------------------------------------------

  root.addEventListener("click", (event) => {
    const control = event.target.closest("[data-action]");
    if (!control || !root.contains(control)) return;
    switch (control.dataset.action) {
      case "toggle": toggle(); break;
      case "step-back": step(-1); break;
      case "step-forward": step(1); break;
      case "loop": setLoop(!video.loop); break;
      case "mute": setMuted(!video.muted); break;
      case "fullscreen": fullScreen(); break;
      default: return;
    }
    // After a mouse click the keys go back to the player, so Space means play/pause, not
    // "press the last button again"; keyboard users keep their focus where it was.
    if (event.detail > 0) root.focus({ preventScroll: true });
  });

  root.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    const onControl = event.target !== root && event.target.closest("button, a");
    if (onControl && (event.key === " " || event.key === "Enter")) return;
    switch (event.key) {
      case " ":
        if (!event.repeat) toggle();
        break;
      case "ArrowLeft": step(-1); break;
      case "ArrowRight": step(1); break;
      case "l":
      case "L": setLoop(!video.loop); break;
      case "m":
      case "M": setMuted(!video.muted); break;
      case "f":
      case "F": fullScreen(); break;
      default: return;
    }
    event.preventDefault();
  });

  render();
  renderBuffered();
}

function setupWithin(node) {
  if (!(node instanceof Element)) return;
  if (node.matches("[data-player]")) setup(node);
  node.querySelectorAll("[data-player]").forEach(setup);
}

// Cards come and go with the live refresh (out-of-band swaps), grids fill, galleries page on:
// every player that appears sets itself up before the browser paints it.
setupWithin(document.documentElement);
new MutationObserver((changes) => {
  for (const change of changes) change.addedNodes.forEach(setupWithin);
}).observe(document.documentElement, { childList: true, subtree: true });
