// Comments beside clips (templates/review/_comments.html): take a frame or a range from the player,
// draw on the paused frame, put each timecoded comment on the scrubber, and send every player on the
// page to a comment's frame when it is clicked, showing its drawing while that frame is on screen.
//
// A drawing is kept in the frame's own 0..1 coordinates (studio/review/drawing.py checks its shape),
// so it lands on the same spot in any player at any size. Panels are swapped whole by htmx after each
// change; everything here is delegated, or rebuilt on htmx:load.

import { frameOf, timecode } from "../compare/frames.js";

const INTO_FRAME = 0.001;
const panels = () => [...document.querySelectorAll("[data-comments]")];
const fpsOf = (panel) => Number(panel.dataset.fps) || 24;
const framesOf = (panel) => Number(panel.dataset.frames) || 1;

// --- Which video shows which clip ---------------------------------------------------------

function videosOf(clipId) {
  const path = new RegExp(`/clips/${clipId}/video(\\?|$)`);
  return [...document.querySelectorAll("video")].filter((video) => path.test(video.getAttribute("src") || ""));
}
function clipOfVideo(video) {
  const found = /\/clips\/(\d+)\/video/.exec(video.getAttribute("src") || "");
  return found ? found[1] : null;
}
function panelOfClip(clipId) {
  return document.querySelector(`[data-comments][data-clip="${clipId}"]`);
}

// --- Seeking every player to a frame ------------------------------------------------------

// The compare page moves both of its players through its own transport (js/compare/player.js listens);
// any other player is paused and moved directly, and its controls follow the video's own events.
function seekEverywhere(frame, fps) {
  const compare = document.querySelector("[data-compare]");
  if (compare) compare.dispatchEvent(new CustomEvent("review:seek-frame", { detail: { frame } }));
  for (const video of document.querySelectorAll("video")) {
    if (video.closest("[data-compare]")) continue;
    video.pause();
    video.currentTime = frame / fps + INTO_FRAME;
  }
}

// --- The frame or range a new comment is about --------------------------------------------

let activePanel = null; // the panel the keys I, O and D act on: the last one used, else the first

function currentFrame(panel) {
  const video = videosOf(panel.dataset.clip)[0];
  if (!video) return null;
  return Math.min(framesOf(panel) - 1, frameOf(video.currentTime, fpsOf(panel)));
}

function showMark(form) {
  const panel = form.closest("[data-comments]");
  const fps = fpsOf(panel);
  const first = form.elements.frame_in.value;
  const last = form.elements.frame_out.value;
  const at = form.querySelector("[data-role=at]");
  const clear = form.querySelector("[data-action=clear-mark]");
  if (first === "") {
    at.textContent = "No frame: about the whole clip";
  } else if (last === "" || last === first) {
    at.textContent = `Frame ${first} (${timecode(Number(first), fps)})`;
  } else {
    at.textContent = `Frames ${first}–${last} (${timecode(Number(first), fps)} to ${timecode(Number(last), fps)})`;
  }
  at.classList.toggle("is-set", first !== "");
  clear.hidden = first === "";
}

function markIn(panel) {
  const form = panel.querySelector("[data-comment-form]");
  const frame = currentFrame(panel);
  if (!form || frame === null) return;
  form.elements.frame_in.value = frame;
  if (form.elements.frame_out.value !== "" && Number(form.elements.frame_out.value) < frame) form.elements.frame_out.value = "";
  showMark(form);
}
function markOut(panel) {
  const form = panel.querySelector("[data-comment-form]");
  const frame = currentFrame(panel);
  if (!form || frame === null) return;
  if (form.elements.frame_in.value === "" || Number(form.elements.frame_in.value) > frame) form.elements.frame_in.value = frame;
  form.elements.frame_out.value = frame > Number(form.elements.frame_in.value) ? frame : "";
  showMark(form);
}
function clearMark(form) {
  form.elements.frame_in.value = "";
  form.elements.frame_out.value = "";
  drawing(form).shapes = [];
  saveShapes(form);
  stopDrawing(form);
  showMark(form);
}

// --- Drawing layers over the videos ------------------------------------------------------

const layers = new Map(); // video → its canvas

function contentBox(video) {
  // Where the picture sits inside the element (letterboxed: object-fit contain), in the parent's pixels.
  const width = video.clientWidth;
  const height = video.clientHeight;
  const ratio = video.videoWidth && video.videoHeight ? video.videoWidth / video.videoHeight : Number(video.getAttribute("width")) / Number(video.getAttribute("height")) || 16 / 9;
  let w = width;
  let h = width / ratio;
  if (h > height) {
    h = height;
    w = height * ratio;
  }
  return { left: video.offsetLeft + (width - w) / 2, top: video.offsetTop + (height - h) / 2, width: w, height: h };
}

function layerFor(video) {
  let canvas = layers.get(video);
  if (!canvas || !canvas.isConnected) {
    canvas = document.createElement("canvas");
    canvas.className = "drawing-layer";
    canvas.setAttribute("aria-hidden", "true");
    video.insertAdjacentElement("afterend", canvas);
    layers.set(video, canvas);
  }
  const box = contentBox(video);
  const scale = window.devicePixelRatio || 1;
  canvas.style.left = `${box.left}px`;
  canvas.style.top = `${box.top}px`;
  canvas.style.width = `${box.width}px`;
  canvas.style.height = `${box.height}px`;
  const w = Math.max(1, Math.round(box.width * scale));
  const h = Math.max(1, Math.round(box.height * scale));
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  return canvas;
}

function paint(canvas, shapes) {
  const context = canvas.getContext("2d");
  const { width: w, height: h } = canvas;
  context.clearRect(0, 0, w, h);
  const line = Math.max(2, w / 320);
  context.lineWidth = line;
  context.lineCap = "round";
  context.lineJoin = "round";
  context.shadowColor = "rgba(0, 0, 0, .6)";
  context.shadowBlur = line * 1.5;
  for (const shape of shapes) {
    context.strokeStyle = shape.color;
    context.fillStyle = shape.color;
    const at = ([x, y]) => [x * w, y * h];
    if (shape.type === "pen") {
      context.beginPath();
      shape.points.forEach((point, index) => (index ? context.lineTo(...at(point)) : context.moveTo(...at(point))));
      context.stroke();
    } else if (shape.type === "rect") {
      const [x1, y1] = at(shape.from);
      const [x2, y2] = at(shape.to);
      context.strokeRect(Math.min(x1, x2), Math.min(y1, y2), Math.abs(x2 - x1), Math.abs(y2 - y1));
    } else if (shape.type === "arrow") {
      const [x1, y1] = at(shape.from);
      const [x2, y2] = at(shape.to);
      const angle = Math.atan2(y2 - y1, x2 - x1);
      const head = Math.max(10, w / 40);
      context.beginPath();
      context.moveTo(x1, y1);
      context.lineTo(x2, y2);
      context.stroke();
      context.beginPath();
      context.moveTo(x2, y2);
      context.lineTo(x2 - head * Math.cos(angle - 0.45), y2 - head * Math.sin(angle - 0.45));
      context.lineTo(x2 - head * Math.cos(angle + 0.45), y2 - head * Math.sin(angle + 0.45));
      context.closePath();
      context.fill();
    } else if (shape.type === "text") {
      const [x, y] = at(shape.at);
      context.font = `600 ${Math.max(12, w / 36)}px system-ui, sans-serif`;
      context.textBaseline = "top";
      context.fillText(shape.text, x, y);
    }
  }
}

// The drawings of comments whose frame (or range) the video is on, plus the one being drawn.
function refreshLayer(video) {
  const clipId = clipOfVideo(video);
  const panel = clipId && panelOfClip(clipId);
  if (!panel) return;
  const frame = Math.min(framesOf(panel) - 1, frameOf(video.currentTime, fpsOf(panel)));
  const shown = [];
  const ids = [];
  for (const item of panel.querySelectorAll("li[data-drawing][data-frame-in]")) {
    const first = Number(item.dataset.frameIn);
    const last = item.dataset.frameOut !== undefined ? Number(item.dataset.frameOut) : first;
    if (frame >= first && frame <= last) {
      try {
        shown.push(...JSON.parse(item.dataset.drawing));
        ids.push(item.dataset.comment);
      } catch {
        // A drawing the server accepted is always JSON; skip anything else rather than stop.
      }
    }
  }
  const form = panel.querySelector("[data-comment-form]");
  const pending = form && drawing(form).drawingOn === video ? drawing(form).shapes : [];
  if (!shown.length && !pending.length && !layers.has(video)) return;
  const canvas = layerFor(video);
  paint(canvas, [...shown, ...pending]);
  if (ids.length) canvas.dataset.showing = ids.join(" ");
  else delete canvas.dataset.showing;
}
function refreshAll() {
  for (const video of document.querySelectorAll("video")) refreshLayer(video);
}
for (const name of ["seeked", "timeupdate", "loadeddata", "pause"]) {
  document.addEventListener(name, (event) => { if (event.target instanceof HTMLVideoElement) refreshLayer(event.target); }, true);
}
window.addEventListener("resize", () => requestAnimationFrame(refreshAll));

// --- Drawing a new comment's shapes -------------------------------------------------------

const drawings = new WeakMap(); // form → { shapes, tool, drawingOn, stroke }
function drawing(form) {
  if (!drawings.has(form)) drawings.set(form, { shapes: [], tool: "arrow", drawingOn: null, stroke: null });
  return drawings.get(form);
}
function saveShapes(form) {
  const state = drawing(form);
  form.elements.drawing.value = state.shapes.length ? JSON.stringify(state.shapes) : "";
  const count = form.querySelector("[data-role=shapes]");
  if (count) count.textContent = state.shapes.length ? `${state.shapes.length} shape${state.shapes.length > 1 ? "s" : ""}` : "";
  if (state.drawingOn) refreshLayer(state.drawingOn);
}
function startDrawing(form) {
  const panel = form.closest("[data-comments]");
  const video = videosOf(panel.dataset.clip)[0];
  if (!video) return;
  video.pause();
  if (form.elements.frame_in.value === "") markIn(panel);
  const state = drawing(form);
  state.drawingOn = video;
  layerFor(video).classList.add("is-drawing");
  form.querySelector("[data-action=draw]").setAttribute("aria-pressed", "true");
  form.querySelector("[data-role=draw-kinds]").hidden = false;
  refreshLayer(video);
}
function stopDrawing(form) {
  const state = drawing(form);
  if (state.drawingOn) {
    const canvas = layers.get(state.drawingOn);
    if (canvas) canvas.classList.remove("is-drawing");
    const video = state.drawingOn;
    state.drawingOn = null;
    refreshLayer(video);
  }
  const button = form.querySelector("[data-action=draw]");
  if (button) button.setAttribute("aria-pressed", "false");
  const kinds = form.querySelector("[data-role=draw-kinds]");
  if (kinds) kinds.hidden = true;
}
function formDrawingOn(video) {
  for (const panel of panels()) {
    const form = panel.querySelector("[data-comment-form]");
    if (form && drawing(form).drawingOn === video) return form;
  }
  return null;
}
function pointOf(video, event) {
  const rect = layers.get(video).getBoundingClientRect();
  const clamp = (n) => Math.min(1, Math.max(0, n));
  return [clamp((event.clientX - rect.left) / rect.width), clamp((event.clientY - rect.top) / rect.height)].map((n) => Math.round(n * 10000) / 10000);
}
function pointerDown(video, event) {
  const form = formDrawingOn(video);
  if (!form) return;
  event.preventDefault();
  const state = drawing(form);
  const color = form.querySelector("[data-role=draw-color]").value || "#ff5050";
  const point = pointOf(video, event);
  if (state.tool === "text") {
    const label = form.querySelector("[data-role=draw-label]");
    const text = label.value.trim();
    if (!text) {
      label.focus();
      return;
    }
    state.shapes.push({ type: "text", color, at: point, text: text.slice(0, 200) });
    label.value = "";
    saveShapes(form);
    return;
  }
  layers.get(video).setPointerCapture(event.pointerId);
  state.stroke =
    state.tool === "pen" ? { type: "pen", color, points: [point, point] } : { type: state.tool, color, from: point, to: point };
  state.shapes.push(state.stroke);
  saveShapes(form);
}
function pointerMove(video, event) {
  const form = formDrawingOn(video);
  const state = form && drawing(form);
  if (!state || !state.stroke) return;
  const point = pointOf(video, event);
  if (state.stroke.type === "pen") {
    const last = state.stroke.points[state.stroke.points.length - 1];
    // Keep a point every few pixels' worth, and never more than the server takes.
    if (Math.hypot(point[0] - last[0], point[1] - last[1]) > 0.004 && state.stroke.points.length < 600) state.stroke.points.push(point);
  } else {
    state.stroke.to = point;
  }
  saveShapes(form);
}
function pointerUp(video) {
  const form = formDrawingOn(video);
  if (form) drawing(form).stroke = null;
}

// While drawing, the pointer belongs to the drawing: the player under it must not hover-scrub, play
// on a click or go full screen on a double click. Caught on the way down, before the player sees it.
const HANDLERS = { pointerdown: pointerDown, pointermove: pointerMove, pointerup: pointerUp, pointercancel: pointerUp };
for (const name of [...Object.keys(HANDLERS), "click", "dblclick", "pointerleave", "pointerover"]) {
  document.addEventListener(
    name,
    (event) => {
      if (!(event.target instanceof Element)) return;
      for (const [video, canvas] of layers) {
        if (!canvas.classList.contains("is-drawing") || !video.parentElement?.contains(event.target)) continue;
        event.stopPropagation();
        if (event.target === canvas && HANDLERS[name]) HANDLERS[name](video, event);
        return;
      }
    },
    true,
  );
}

// --- Markers on the scrubbers --------------------------------------------------------------

function markersFor(panel) {
  const fps = fpsOf(panel);
  return [...panel.querySelectorAll(".comment-list > li[data-frame-in]")].map((item) => ({
    id: item.dataset.comment,
    first: Number(item.dataset.frameIn),
    last: item.dataset.frameOut !== undefined ? Number(item.dataset.frameOut) : null,
    resolved: item.classList.contains("is-resolved"),
    fps,
    words: item.querySelector(".comment-text")?.textContent.trim().slice(0, 80) || "",
    by: item.querySelector(".comment-meta strong")?.textContent || "",
  }));
}

function placeMarkers(track, markers, frames) {
  track.querySelector(":scope > .comment-markers")?.remove();
  if (!markers.length) return;
  const row = document.createElement("div");
  row.className = "comment-markers";
  for (const marker of markers) {
    const tick = document.createElement("button");
    tick.type = "button";
    tick.className = "comment-marker" + (marker.last !== null ? " is-range" : "") + (marker.resolved ? " is-resolved" : "");
    tick.dataset.action = "seek";
    tick.dataset.frame = marker.first;
    tick.dataset.comment = marker.id;
    tick.title = `Frame ${marker.first}: ${marker.by} — ${marker.words}`;
    tick.setAttribute("aria-label", `Comment at frame ${marker.first} by ${marker.by}`);
    tick.style.left = `${(marker.first / Math.max(1, frames - 1)) * 100}%`;
    if (marker.last !== null) tick.style.width = `${((marker.last - marker.first) / Math.max(1, frames - 1)) * 100}%`;
    row.append(tick);
  }
  track.classList.add("scrub-with-markers");
  track.append(row);
}

function refreshMarkers() {
  const compare = document.querySelector("[data-compare]");
  if (compare) {
    // One transport for both clips, counted in the longer one's frames.
    const range = compare.querySelector("input[data-action=seek]");
    const frames = Number(range.max) + 1;
    placeMarkers(range.parentElement, panels().flatMap(markersFor), frames);
    return;
  }
  for (const panel of panels()) {
    for (const video of videosOf(panel.dataset.clip)) {
      const track = video.closest("[data-player]")?.querySelector("[data-role=scrub]");
      if (track) placeMarkers(track, markersFor(panel), framesOf(panel));
    }
  }
}

// --- Events ---------------------------------------------------------------------------------

document.addEventListener("click", (event) => {
  const control = event.target instanceof Element && event.target.closest("[data-action]");
  if (!control) return;
  const panel = control.closest("[data-comments]");
  if (panel) activePanel = panel;
  const form = control.closest("[data-comment-form]");
  switch (control.dataset.action) {
    case "seek": {
      if (!control.closest("[data-comments]") && !control.closest(".comment-markers")) return;
      event.preventDefault();
      const frame = Number(control.dataset.frame);
      const owner = panel || panels().find((p) => p.querySelector(`[data-comment="${control.dataset.comment}"]`)) || panels()[0];
      seekEverywhere(frame, fpsOf(owner));
      document.querySelectorAll(".comment.is-current").forEach((item) => item.classList.remove("is-current"));
      const item = control.closest(".comment") || document.getElementById(`comment-${control.dataset.comment}`);
      if (item) item.classList.add("is-current");
      break;
    }
    case "mark-in": markIn(panel); break;
    case "mark-out": markOut(panel); break;
    case "clear-mark": clearMark(form); break;
    case "draw": if (drawing(form).drawingOn) stopDrawing(form); else startDrawing(form); break;
    case "undo-shape": drawing(form).shapes.pop(); saveShapes(form); break;
    default:
  }
});
document.addEventListener("click", (event) => {
  const tool = event.target instanceof Element && event.target.closest("[data-tool]");
  const form = tool && tool.closest("[data-comment-form]");
  if (!form) return;
  drawing(form).tool = tool.dataset.tool;
  for (const other of form.querySelectorAll("[data-tool]")) other.setAttribute("aria-pressed", String(other === tool));
  form.querySelector("[data-role=draw-label]").hidden = tool.dataset.tool !== "text";
});
document.addEventListener("focusin", (event) => {
  const panel = event.target instanceof Element && event.target.closest("[data-comments]");
  if (panel) activePanel = panel;
});

// I marks the frame, O ends a range, D draws: wherever the page is not taking typed words.
document.addEventListener("keydown", (event) => {
  const typing = event.target instanceof Element && event.target.closest("input, textarea, select, [contenteditable]");
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && typing && event.target.closest("[data-comments] form")) {
    event.preventDefault();
    event.target.closest("form").requestSubmit();
    return;
  }
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  const panel = activePanel && activePanel.isConnected ? activePanel : panels()[0];
  const form = panel && panel.querySelector("[data-comment-form]");
  if (!form) return;
  const key = event.key.toLowerCase();
  if (key === "i") markIn(panel);
  else if (key === "o") markOut(panel);
  else if (key === "d") (drawing(form).drawingOn ? stopDrawing : startDrawing)(form);
  else return;
  event.preventDefault();
});

function setUp() {
  for (const panel of panels()) {
    const form = panel.querySelector("[data-comment-form]");
    if (form) showMark(form);
  }
  refreshMarkers();
  refreshAll();
}
document.addEventListener("htmx:load", setUp);
document.addEventListener("loadedmetadata", () => requestAnimationFrame(refreshAll), true);
setUp();
