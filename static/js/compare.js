// Two clips, one transport.
//
// The longer clip leads (the left one when both are the same length): the
// transport spans it, and the other follows its clock. Every deliberate move —
// play, seek, frame step, speed change, swap — pauses both, puts them on the
// same time exactly, waits until both show that frame and only then resumes.
// While playing, small drift is taken out by nudging the follower's playback
// rate and larger drift by letting the clip that is ahead wait for the other
// (see follow()). The shorter clip holds its last frame while the longer one
// plays on.
(function () {
  "use strict";

  const RATES = [0.25, 0.5, 0.75, 1];
  // Rate correction per second of drift: 10 ms behind plays 3 % faster, which
  // closes the gap in about a third of a second without overshooting.
  const GAIN = 3;
  // Never more than ±8 % off the chosen speed: sound stays listenable.
  const MAX_NUDGE = 0.08;
  // Seek a hair past a frame's start, so rounding never shows the frame before.
  const INTO_FRAME = 0.001;
  const WIPE_STEP = 1;
  const WIPE_BIG_STEP = 10;

  const clamp = (x, low, high) => Math.min(high, Math.max(low, x));

  function setup(root) {
    const fps = Number(root.dataset.fps) || 24;
    const FRAME = 1 / fps;
    const IN_SYNC = FRAME / 8; // about 5 ms: play at exactly the chosen speed
    const WAIT_BEYOND = FRAME / 3; // about 14 ms: too far to nudge; the one ahead waits
    const TOO_FAR = FRAME * 6; // a quarter second: re-align both with a seek

    const stage = root.querySelector('[data-role="stage"]');
    const sides = [...stage.querySelectorAll(".compare-side")];
    const bars = [...root.querySelectorAll(".side-bar")];
    const videos = sides.map((side) => side.querySelector("video"));
    const divider = root.querySelector('[data-role="divider"]');
    const seek = root.querySelector('[data-action="seek"]');
    const toggleButton = root.querySelector('[data-action="toggle"]');
    const timeOut = root.querySelector('[data-role="time"]');
    const lengthOut = root.querySelector('[data-role="length"]');
    const frameOut = root.querySelector('[data-role="frame"]');
    const messageOut = root.querySelector('[data-role="message"]');

    const state = {
      playing: false, // what the user asked for; the elements may lag behind it
      loop: false,
      rate: 1,
      mode: "side",
      swapped: false,
      wipe: 50,
      busy: 0, // moves queued or running: the follower is left alone meanwhile
      scrubbing: false,
      resumeAfterScrub: false,
    };

    const left = () => videos[state.swapped ? 1 : 0];
    const right = () => videos[state.swapped ? 0 : 1];
    const durationOf = (video) =>
      Number.isFinite(video.duration) && video.duration > 0 ? video.duration : Number(video.dataset.duration) || 0;
    const leader = () => (durationOf(right()) > durationOf(left()) + FRAME / 2 ? right() : left());
    const follower = () => (leader() === videos[0] ? videos[1] : videos[0]);
    const frameCount = () => Math.max(1, Math.round(durationOf(leader()) * fps));
    const frameOf = (t) => Math.floor(t * fps + 1e-6);
    const timeOfFrame = (n) => clamp(n, 0, frameCount() - 1) / fps + INTO_FRAME;
    // Where a clip shows its last frame: the shorter one waits there.
    const holdTime = (video) => Math.max(0, durationOf(video) - INTO_FRAME);
    const now = () => leader().currentTime;
    const hasSound = (video) => video.dataset.audio === "true";

    // --- Moves: one at a time, both players paused while they happen ---------

    let queue = Promise.resolve();

    // `move` runs with both paused and returns the transport time to show
    // (undefined keeps the leader's). `after` is "keep", "play" or "pause".
    function change(move, after = "keep") {
      if (after === "play") state.playing = true;
      if (after === "pause") state.playing = false;
      state.busy += 1;
      const run = async () => {
        try {
          waiting = null;
          videos.forEach((video) => video.pause());
          const t = move();
          place(t === undefined ? now() : t);
          await Promise.all(videos.map(settled));
          if (state.playing) await start();
        } finally {
          state.busy -= 1;
          render();
        }
      };
      queue = queue.then(run, run);
      return queue;
    }

    function place(t) {
      t = clamp(t, 0, timeOfFrame(frameCount() - 1));
      const lead = leader();
      const other = follower();
      lead.currentTime = t;
      other.currentTime = Math.min(t, holdTime(other));
      // Any nudge from the sync loop ends here: both at exactly the chosen speed.
      videos.forEach((video) => { video.playbackRate = state.rate; });
    }

    // Resolves once the video shows the frame at its current time.
    function settled(video) {
      if (!video.seeking && video.readyState >= 2) return Promise.resolve();
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          video.removeEventListener("seeked", done);
          video.removeEventListener("loadeddata", done);
          resolve();
        };
        // A stuck decoder must not freeze the transport.
        const timer = setTimeout(done, 4000);
        video.addEventListener("seeked", done);
        video.addEventListener("loadeddata", done);
      });
    }

    async function start() {
      const lead = leader();
      const other = follower();
      const players = lead.currentTime < holdTime(other) ? [lead, other] : [lead];
      // Sound takes a tenth of a second or so to get going, pictures almost
      // nothing: with one clip of each, the silent one starts once the other's
      // clock is running. What is left is taken out by follow().
      const first = players.length === 2 && hasSound(lead) !== hasSound(other) ? players.find(hasSound) : null;
      try {
        if (first) {
          const from = first.currentTime;
          await first.play();
          await running(first, from);
          await Promise.all(players.filter((video) => video !== first).map((video) => video.play()));
        } else {
          await Promise.all(players.map((video) => video.play()));
        }
        say("");
      } catch (error) {
        state.playing = false;
        videos.forEach((video) => video.pause());
        say(error.name === "NotAllowedError"
          ? "The browser wants a click before it plays sound: press Play."
          : "A clip could not be played (" + error.message + ").");
      }
    }

    // Resolves once the video's clock has moved on from `from` (or gave up trying).
    function running(video, from) {
      const until = performance.now() + 500;
      return new Promise((resolve) => {
        const check = () => {
          if (video.currentTime > from || video.paused || performance.now() > until) resolve();
          else setTimeout(check, 2);
        };
        check();
      });
    }

    // --- The public moves ----------------------------------------------------

    function play() {
      // From the end, play starts over.
      return change(() => (now() >= timeOfFrame(frameCount() - 1) ? 0 : undefined), "play");
    }

    function pause() {
      return change(() => undefined, "pause");
    }

    function toggle() {
      return state.playing ? pause() : play();
    }

    let seekTarget = null;
    function seekTo(t) {
      const queued = seekTarget !== null;
      seekTarget = Number(t) || 0;
      // A seek already waiting in line picks up the newest target: scrubbing
      // fast queues one move, not hundreds.
      if (queued) return queue;
      return change(() => {
        const target = seekTarget;
        seekTarget = null;
        return target;
      });
    }

    function step(frames) {
      return change(() => timeOfFrame(frameOf(now()) + frames), "pause");
    }

    function setRate(rate) {
      rate = Number(rate);
      if (!(rate > 0)) return queue;
      return change(() => {
        state.rate = rate;
        showRate();
      });
    }

    function swap() {
      return change(() => {
        const t = now();
        state.swapped = !state.swapped;
        layout();
        return t;
      });
    }

    function setMode(mode) {
      state.mode = mode === "wipe" ? "wipe" : "side";
      layout();
      return Promise.resolve(state.mode);
    }

    function setLoop(on) {
      state.loop = Boolean(on);
      root.querySelector('[data-action="loop"]').setAttribute("aria-pressed", String(state.loop));
    }

    // --- Keeping the follower on the leader's clock --------------------------
    //
    // Checked on every animation frame and every frame the leader presents.
    // Within a third of a frame, the follower's rate is nudged. Beyond that,
    // whichever clip is ahead waits, paused, until the other reaches it: that
    // is exact, where a seek during playback lands late by however long the
    // decoder takes. It is also what absorbs sound starting later than
    // pictures after every play. Far apart (a stall, a sleeping tab), both are
    // re-aligned with a paused seek.

    let waiting = null; // the clip held back until the other catches up

    function follow() {
      if (!state.playing || state.busy) return;
      const lead = leader();
      const other = follower();
      if (waiting) {
        const behind = waiting === lead ? other : lead;
        if (behind.paused || behind.currentTime >= waiting.currentTime - IN_SYNC) {
          const resume = waiting;
          waiting = null;
          resume.play().catch(() => {});
        }
        return;
      }
      if (lead.paused || lead.seeking || other.seeking || lead.error || other.error) return;
      const t = lead.currentTime;
      if (t >= holdTime(other) - FRAME) return; // the shorter one is ending or holding its last frame
      const drift = other.currentTime - t;
      if (other.paused || Math.abs(drift) > TOO_FAR) {
        change(() => undefined);
        return;
      }
      const ahead = drift > 0 ? other : lead;
      // Only a silent clip waits: sound restarts late, which would only move the gap.
      if (Math.abs(drift) > WAIT_BEYOND && !hasSound(ahead)) {
        waiting = ahead;
        waiting.pause();
        other.playbackRate = state.rate;
        return;
      }
      const off = Math.abs(drift) <= IN_SYNC ? 0 : clamp(-drift * GAIN, -MAX_NUDGE, MAX_NUDGE);
      const rate = Math.round(state.rate * (1 + off) * 1000) / 1000;
      if (other.playbackRate !== rate) other.playbackRate = rate;
    }

    if ("requestVideoFrameCallback" in HTMLVideoElement.prototype) {
      videos.forEach((video) => {
        const onFrame = () => {
          if (video === leader()) follow();
          video.requestVideoFrameCallback(onFrame);
        };
        video.requestVideoFrameCallback(onFrame);
      });
    }

    function everyAnimationFrame() {
      follow();
      render();
      requestAnimationFrame(everyAnimationFrame);
    }

    videos.forEach((video) => {
      video.addEventListener("ended", () => {
        if (video !== leader() || !state.playing || state.busy) return;
        if (state.loop) change(() => 0);
        else state.playing = false;
      });
    });
    // Animation frames stop in a hidden tab while sound plays on; line up on return.
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && state.playing) change(() => undefined);
    });
    // Headset buttons and the system's media keys drive both players, not one.
    if ("mediaSession" in navigator) {
      navigator.mediaSession.setActionHandler("play", () => play());
      navigator.mediaSession.setActionHandler("pause", () => pause());
    }

    // --- What the page shows -------------------------------------------------

    const shown = {};
    function show(key, value, apply) {
      if (shown[key] !== value) {
        shown[key] = value;
        apply(value);
      }
    }

    function timecode(frame) {
      const seconds = Math.floor(frame / fps);
      const pad = (n) => String(n).padStart(2, "0");
      return pad(Math.floor(seconds / 60)) + ":" + pad(seconds % 60) + ":" + pad(frame % fps);
    }

    function render() {
      const count = frameCount();
      const frame = clamp(frameOf(now()), 0, count - 1);
      show("time", frame, (f) => { timeOut.value = timecode(f); });
      // Counted from 0, like the frames part of the timecode.
      show("frame", frame + "/" + count, () => { frameOut.textContent = "frame " + frame + " / " + (count - 1); });
      show("length", count, (n) => {
        lengthOut.textContent = timecode(n);
        seek.max = String(n - 1);
      });
      if (!state.scrubbing) show("seek", frame, (f) => { seek.value = String(f); });
      show("playing", state.playing, (playing) => {
        root.classList.toggle("is-playing", playing);
        toggleButton.setAttribute("aria-label", playing ? "Pause both" : "Play both");
      });
    }

    function layout() {
      const positions = state.swapped ? ["right", "left"] : ["left", "right"];
      [sides, bars].forEach((group) => group.forEach((el) => {
        el.dataset.position = positions[Number(el.dataset.clip)];
        el.querySelector('[data-role="tag"]').textContent = el.dataset.position === "left" ? "A" : "B";
      }));
      root.querySelectorAll("[data-orientation]").forEach((notes) => {
        notes.hidden = (notes.dataset.orientation === "ba") !== state.swapped;
      });
      root.dataset.mode = state.mode;
      divider.hidden = state.mode !== "wipe";
      root.querySelectorAll('[data-action="mode"]').forEach((button) => {
        button.setAttribute("aria-pressed", String(button.dataset.mode === state.mode));
      });
    }

    function showRate() {
      root.querySelectorAll('[data-action="rate"]').forEach((button) => {
        button.setAttribute("aria-pressed", String(Number(button.dataset.rate) === state.rate));
      });
    }

    function say(text) {
      messageOut.textContent = text;
    }

    // --- Wipe ----------------------------------------------------------------

    function setWipe(percent) {
      state.wipe = clamp(percent, 0, 100);
      const rounded = Math.round(state.wipe * 10) / 10;
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
      if (state.mode !== "wipe" || event.button !== 0) return;
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
      if (event.key in moves) setWipe(state.wipe + moves[event.key]);
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
        if (event.target.tagName === "VIDEO" && state.mode === "side") toggle();
        return;
      }
      const bar = control.closest(".side-bar");
      switch (control.dataset.action) {
        case "toggle": toggle(); break;
        case "step-back": step(-1); break;
        case "step-forward": step(1); break;
        case "rate": setRate(control.dataset.rate); break;
        case "loop": setLoop(!state.loop); break;
        case "mode": setMode(control.dataset.mode); break;
        case "swap": swap(); break;
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

    seek.addEventListener("input", () => {
      if (!state.scrubbing) {
        state.scrubbing = true;
        if (state.playing) {
          state.resumeAfterScrub = true;
          state.playing = false;
        }
      }
      seekTo(timeOfFrame(Number(seek.value)));
    });
    seek.addEventListener("change", () => {
      state.scrubbing = false;
      if (state.resumeAfterScrub) {
        state.resumeAfterScrub = false;
        play();
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
          if (!event.repeat) toggle();
          break;
        case "ArrowLeft": step(-1); break;
        case "ArrowRight": step(1); break;
        case "[":
        case "]":
          if (!event.repeat) swap();
          break;
        default: return;
      }
      event.preventDefault();
    });

    // Posters show while the clips load; once both can show a frame, line them
    // up where the transport is (the start, unless someone was quicker).
    const ready = Promise.all(videos.map((video) => (video.readyState >= 2
      ? Promise.resolve()
      : new Promise((resolve) => video.addEventListener("loadeddata", resolve, { once: true })))))
      .then(() => change(() => undefined));

    root.dailies = {
      get a() { return left(); },
      get b() { return right(); },
      get leader() { return leader(); },
      get playing() { return state.playing; },
      get rate() { return state.rate; },
      get mode() { return state.mode; },
      get swapped() { return state.swapped; },
      fps,
      ready,
      // Resolves when every move asked for so far has been made.
      idle: () => queue,
      rates: RATES,
      play,
      pause,
      toggle,
      seekTo,
      step,
      setRate,
      setLoop,
      swap,
      setMode,
      setWipe,
    };

    setWipe(state.wipe);
    layout();
    showRate();
    requestAnimationFrame(everyAnimationFrame);
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-compare]").forEach(setup);
  });
})();
