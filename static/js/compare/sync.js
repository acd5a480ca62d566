// Two clips, one clock.
//
// The longer clip leads (the left one when both are the same length): the
// transport spans it, and the other follows its clock. Every deliberate move —
// play, seek, frame step, speed change, swap — pauses both, puts them on the
// same time exactly, waits until both show that frame and only then resumes.
// While playing, small drift is taken out by nudging the follower's playback
// rate and larger drift by letting the clip that is ahead wait for the other
// (see follow()). The shorter clip holds its last frame while the longer one
// plays on.
//
// Nothing here reads or writes the page around the players: the page's
// controls call the moves and redraw from `onChange`.
import { INTO_FRAME, clamp, frameCount, frameOf, timeOfFrame } from "./frames.js";

// Rate correction per second of drift: 10 ms behind plays 3 % faster, which
// closes the gap in about a third of a second without overshooting.
const GAIN = 3;
// Never more than ±8 % off the chosen speed: sound stays listenable.
const MAX_NUDGE = 0.08;
// Drift thresholds, in frames.
const IN_SYNC = 1 / 8; // about 5 ms at 24 fps: play at exactly the chosen speed
const WAIT_BEYOND = 1 / 3; // about 14 ms: too far to nudge; the one ahead waits
const TOO_FAR = 6; // a quarter second: a stall or a sleeping tab; line both up again

// What to do about a follower `drift` seconds ahead of the leader (behind when
// negative): play at `rate` ("nudge"), hold the clip that is ahead ("wait"),
// or seek both to the same time ("realign").
export function correction(drift, { frame, rate, aheadHasSound }) {
  const gap = Math.abs(drift);
  if (gap > frame * TOO_FAR) return { action: "realign" };
  // Only a silent clip waits: sound restarts late, which would only move the gap.
  if (gap > frame * WAIT_BEYOND && !aheadHasSound) return { action: "wait" };
  const off = gap <= frame * IN_SYNC ? 0 : clamp(-drift * GAIN, -MAX_NUDGE, MAX_NUDGE);
  return { action: "nudge", rate: Math.round(rate * (1 + off) * 1000) / 1000 };
}

// `videos` are the left and the right player, in the page's order; each says
// its length and whether it has sound in data-duration and data-audio, for
// the time before its metadata arrives.
//
// `onChange()` is called whenever what the transport shows may have changed:
// on every animation frame while playing, and around every move.
// `onPlayed(error)` after each try to start both: null when they play.
export function createSync(videos, { fps = 24, onChange = () => {}, onPlayed = () => {} } = {}) {
  const FRAME = 1 / fps;
  const state = {
    playing: false, // what the user asked for; the elements may lag behind it
    loop: false,
    rate: 1,
    swapped: false,
    busy: 0, // moves queued or running: the follower is left alone meanwhile
  };

  const left = () => videos[state.swapped ? 1 : 0];
  const right = () => videos[state.swapped ? 0 : 1];
  const lengthOf = (video) =>
    Number.isFinite(video.duration) && video.duration > 0 ? video.duration : Number(video.dataset.duration) || 0;
  const leader = () => (lengthOf(right()) > lengthOf(left()) + FRAME / 2 ? right() : left());
  const follower = () => (leader() === videos[0] ? videos[1] : videos[0]);
  const count = () => frameCount(lengthOf(leader()), fps);
  const lastFrameTime = () => timeOfFrame(count() - 1, count(), fps);
  // Where a clip shows its last frame: the shorter one waits there.
  const holdTime = (video) => Math.max(0, lengthOf(video) - INTO_FRAME);
  const now = () => leader().currentTime;
  const hasSound = (video) => video.dataset.audio === "true";

  // --- Moves: one at a time, both players paused while they happen ---------

  let queue = Promise.resolve();
  let waiting = null; // the clip held back until the other catches up

  // `move` runs with both paused and returns the transport time to show
  // (undefined keeps the leader's). `after` is "keep", "play" or "pause".
  function change(move, after = "keep") {
    if (after === "play") setPlaying(true);
    if (after === "pause") setPlaying(false);
    state.busy += 1;
    onChange();
    const run = async () => {
      try {
        waiting = null;
        videos.forEach((video) => video.pause());
        const t = move();
        place(t === undefined ? now() : t);
        onChange();
        await Promise.all(videos.map(settled));
        if (state.playing) await start();
      } finally {
        state.busy -= 1;
        onChange();
      }
    };
    queue = queue.then(run, run);
    return queue;
  }

  function place(t) {
    t = clamp(t, 0, lastFrameTime());
    const other = follower();
    leader().currentTime = t;
    other.currentTime = Math.min(t, holdTime(other));
    // Any nudge from following ends here: both at exactly the chosen speed.
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
      onPlayed(null);
    } catch (error) {
      setPlaying(false);
      videos.forEach((video) => video.pause());
      onPlayed(error);
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
    return change(() => (now() >= lastFrameTime() ? 0 : undefined), "play");
  }

  function pause() {
    return change(() => undefined, "pause");
  }

  function toggle() {
    return state.playing ? pause() : play();
  }

  let seekTarget = null;
  function seekTo(seconds, after = "keep") {
    if (after === "pause") setPlaying(false);
    const queued = seekTarget !== null;
    seekTarget = Number(seconds) || 0;
    // A seek already waiting in line picks up the newest target: scrubbing
    // fast queues one move, not hundreds.
    if (queued) return queue;
    return change(() => {
      const target = seekTarget;
      seekTarget = null;
      return target;
    });
  }

  function seekToFrame(frame, after = "keep") {
    return seekTo(timeOfFrame(frame, count(), fps), after);
  }

  function step(frames) {
    return change(() => timeOfFrame(frameOf(now(), fps) + frames, count(), fps), "pause");
  }

  function setRate(rate) {
    rate = Number(rate);
    if (!(rate > 0)) return queue;
    return change(() => { state.rate = rate; });
  }

  function swap() {
    return change(() => {
      const t = now();
      state.swapped = !state.swapped;
      return t;
    });
  }

  // Both on the leader's time again, playing on if they were.
  function lineUp() {
    return change(() => undefined);
  }

  // The leader ran out: start over, or stop on its last frame.
  function finish() {
    if (state.loop) {
      change(() => 0);
    } else {
      setPlaying(false);
      onChange();
    }
  }

  // --- Keeping the follower on the leader's clock --------------------------
  //
  // Checked on every animation frame and every frame the leader presents.
  // Within a third of a frame, the follower's rate is nudged. Beyond that,
  // whichever clip is ahead waits, paused, until the other reaches it: that
  // is exact, where a seek during playback lands late by however long the
  // decoder takes. It is also what absorbs sound starting later than
  // pictures after every play. Far apart, both are lined up again.

  function follow() {
    if (!state.playing || state.busy) return;
    const lead = leader();
    const other = follower();
    if (waiting) {
      const behind = waiting === lead ? other : lead;
      if (behind.paused || behind.currentTime >= waiting.currentTime - FRAME * IN_SYNC) {
        const resume = waiting;
        waiting = null;
        resume.play().catch(() => {});
      }
      return;
    }
    if (lead.paused || lead.seeking || other.seeking || lead.error || other.error) return;
    const t = lead.currentTime;
    if (t >= holdTime(other) - FRAME) return; // the shorter one is ending or holding its last frame
    if (other.paused) {
      lineUp();
      return;
    }
    const drift = other.currentTime - t;
    const ahead = drift > 0 ? other : lead;
    const fix = correction(drift, { frame: FRAME, rate: state.rate, aheadHasSound: hasSound(ahead) });
    if (fix.action === "realign") {
      lineUp();
    } else if (fix.action === "wait") {
      waiting = ahead;
      waiting.pause();
      other.playbackRate = state.rate;
    } else if (other.playbackRate !== fix.rate) {
      other.playbackRate = fix.rate;
    }
  }

  // --- The clock: it ticks only while playing ------------------------------
  //
  // A paused page does no work per frame; a move made while paused redraws
  // through onChange once it is done.

  let animationFrame = 0;
  const frameWatches = new Map(); // video → its pending requestVideoFrameCallback
  const canWatchFrames = "requestVideoFrameCallback" in HTMLVideoElement.prototype;

  function setPlaying(on) {
    state.playing = on;
    if (on) startClock();
    else stopClock();
  }

  function startClock() {
    if (!animationFrame) animationFrame = requestAnimationFrame(tick);
    if (canWatchFrames) videos.forEach(watchFrames);
  }

  function stopClock() {
    cancelAnimationFrame(animationFrame);
    animationFrame = 0;
    frameWatches.forEach((id, video) => video.cancelVideoFrameCallback(id));
    frameWatches.clear();
  }

  function tick() {
    animationFrame = 0;
    if (stoppedOutsideAMove()) {
      // Paused from outside the page, or the leader ran out before its
      // "ended" arrived: either way nothing is left to follow.
      if (leader().ended) finish();
      else setPlaying(false);
    }
    follow();
    onChange();
    if (state.playing && !animationFrame) animationFrame = requestAnimationFrame(tick);
  }

  function stoppedOutsideAMove() {
    return state.playing && !state.busy && !waiting && videos.every((video) => video.paused);
  }

  // A frame presented by the leader is the freshest moment to compare clocks.
  function watchFrames(video) {
    if (frameWatches.has(video)) return;
    frameWatches.set(video, video.requestVideoFrameCallback(() => {
      frameWatches.delete(video);
      if (!state.playing) return;
      if (video === leader()) follow();
      watchFrames(video);
    }));
  }

  videos.forEach((video) => {
    video.addEventListener("ended", () => {
      if (video === leader() && state.playing && !state.busy) finish();
    });
  });

  return {
    get playing() { return state.playing; },
    get busy() { return state.busy > 0; },
    get rate() { return state.rate; },
    get loop() { return state.loop; },
    get swapped() { return state.swapped; },
    left,
    right,
    frameCount: count,
    // The frame the transport is on, counted from 0.
    frame: () => clamp(frameOf(now(), fps), 0, count() - 1),
    play,
    pause,
    toggle,
    seekTo,
    seekToFrame,
    step,
    setRate,
    swap,
    lineUp,
    setLoop(on) { state.loop = Boolean(on); },
  };
}
