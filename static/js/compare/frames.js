// Frame arithmetic for the compare page: clips are cut at a fixed rate
// (24 fps), and the transport counts in frames, not seconds.

// Seek a hair past a frame's start, so rounding never shows the frame before.
export const INTO_FRAME = 0.001;

export const clamp = (x, low, high) => Math.min(high, Math.max(low, x));

// The epsilon keeps 1.0 s at 24 fps on frame 24, not 23.999….
export const frameOf = (seconds, fps) => Math.floor(seconds * fps + 1e-6);

export const frameCount = (seconds, fps) => Math.max(1, Math.round(seconds * fps));

export const timeOfFrame = (frame, count, fps) => clamp(frame, 0, count - 1) / fps + INTO_FRAME;

// minutes:seconds:frames, the frames part counted from 0 like the frame number.
export function timecode(frame, fps) {
  const seconds = Math.floor(frame / fps);
  const pad = (n) => String(n).padStart(2, "0");
  return pad(Math.floor(seconds / 60)) + ":" + pad(seconds % 60) + ":" + pad(frame % fps);
}

// A page's readouts are written only when what they show changes: `show(key, value, apply)` calls
// `apply(value)` the first time and whenever `value` differs from the last one for `key`.
export function changesOnly() {
  const shown = {};
  return (key, value, apply) => {
    if (shown[key] !== value) {
      shown[key] = value;
      apply(value);
    }
  };
}
