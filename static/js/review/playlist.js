// A playlist's review page (templates/review/playlist.html): the clips play one after another in one
// large player; N / ↓ and P / ↑ go to the next and previous clip, A approves and C asks for changes
// (the status form posts to the gallery's review view); editors drag clips in the list to reorder.
//
// Another clip comes in without reloading the page: the same URL with ?clip= answers, to an htmx
// request, with the review region alone, and its stage, comments and list are swapped in. Staying on one page keeps the browser's
// permission to play sound, so the next clip starts by itself. Without this script every link, the
// status form and the ↑ ↓ buttons work as plain requests.

const region = () => document.querySelector("[data-playlist-review]");
const stage = () => document.getElementById("playlist-stage");
const list = () => document.querySelector("[data-items]");
const items = () => [...document.querySelectorAll("[data-items] > .playlist-item")];
const said = (words) => {
  const out = document.querySelector("[data-role=said]");
  if (out) out.textContent = words;
};

// The keys work only with this script, so only then does the page name them.
const keysHelp = document.getElementById("playlist-keys");
if (keysHelp) keysHelp.hidden = false;

function pageUrl(clipId) {
  return `${region().dataset.pageUrl}?clip=${clipId}`;
}

function neighbour(step) {
  const current = stage() && stage().dataset.clip;
  const all = items();
  const at = all.findIndex((item) => item.dataset.clip === current);
  const next = all[at + step];
  return next ? next.dataset.clip : null;
}

async function fetchRegion(clipId) {
  const response = await fetch(pageUrl(clipId), { headers: { "HX-Request": "true" }, credentials: "same-origin" });
  if (!response.ok) throw new Error(`the playlist answered ${response.status}`);
  return response.text();
}

// Swapped by hand rather than with htmx.swap: htmx's settling copies `style` attributes between the old
// and new elements, which the page's Content-Security-Policy refuses. htmx then wires up what came in,
// and htmx:load tells the comments panel (js/review/comments.js) to set itself up.
function swapIn(html, ids) {
  const fresh = new DOMParser().parseFromString(html, "text/html");
  for (const id of ids) {
    const old = document.getElementById(id);
    const replacement = fresh.getElementById(id);
    if (!old || !replacement) continue;
    const adopted = document.importNode(replacement, true);
    old.replaceWith(adopted);
    htmx.process(adopted);
    adopted.dispatchEvent(new CustomEvent("htmx:load", { bubbles: true, detail: { elt: adopted } }));
  }
}

// Show another clip; `play` starts it at once (after the one before ended, or if one was playing).
async function show(clipId, { play = false } = {}) {
  const before = stage() && stage().querySelector("video");
  const hadFocus = before && before.closest("[data-player]").contains(document.activeElement);
  if (before) before.pause();
  let html;
  try {
    html = await fetchRegion(clipId);
  } catch {
    window.location.assign(pageUrl(clipId));
    return;
  }
  swapIn(html, ["playlist-stage", "playlist-comments", "playlist-items"]);
  history.replaceState(null, "", pageUrl(clipId));
  const video = stage() && stage().querySelector("video");
  if (!video) return;
  if (hadFocus) video.closest("[data-player]").focus({ preventScroll: true });
  const position = stage().querySelector(".playlist-now .muted");
  said(`Now ${position ? position.textContent : "another clip"}.`);
  if (play) video.play().catch(() => {});
}

function step(by) {
  const target = neighbour(by);
  if (!target) {
    said(by > 0 ? "That was the last clip." : "This is the first clip.");
    return;
  }
  const video = stage() && stage().querySelector("video");
  show(target, { play: Boolean(video && !video.paused && !video.ended) });
}

// --- Review status -----------------------------------------------------------------------

async function setStatus(form, status) {
  const data = new FormData(form);
  data.set("review", status);
  const clipId = stage().dataset.clip;
  const response = await fetch(form.action, { method: "POST", body: data, credentials: "same-origin" });
  if (!response.ok) {
    said("The status could not be set.");
    return;
  }
  // The stage keeps playing: only the status and the list (its badges) come back.
  swapIn(await fetchRegion(clipId), ["playlist-status", "playlist-items"]);
  const badge = document.querySelector("#playlist-status [data-role=status]");
  said(badge ? `Marked ${badge.textContent.toLowerCase()}.` : "");
}

document.addEventListener("submit", (event) => {
  const form = event.target.closest("[data-status-form]");
  if (!form || !region()) return;
  event.preventDefault();
  setStatus(form, event.submitter ? event.submitter.value : "approved");
});

// --- Going through the clips ---------------------------------------------------------------

// `ended` does not bubble: listen while it goes down.
document.addEventListener(
  "ended",
  (event) => {
    if (!(event.target instanceof HTMLVideoElement) || !stage() || !stage().contains(event.target)) return;
    const next = neighbour(1);
    if (next) show(next, { play: true });
    else said("That was the last clip of the playlist.");
  },
  true,
);

document.addEventListener("click", (event) => {
  const link = event.target instanceof Element && event.target.closest("[data-pick], [data-step]");
  if (!link || !region() || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  const found = /[?&]clip=(\d+)/.exec(link.getAttribute("href") || "");
  if (!found) return;
  event.preventDefault();
  const video = stage() && stage().querySelector("video");
  show(found[1], { play: Boolean(video && !video.paused) });
});

document.addEventListener("keydown", (event) => {
  if (!region() || event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  const typing = event.target instanceof Element && event.target.closest("input, textarea, select, [contenteditable]");
  if (typing) return;
  // On a button or link, ↑ ↓ stay the page's; the letters are ours everywhere.
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  const form = document.querySelector("[data-status-form]");
  switch (key) {
    case "n":
    case "ArrowDown": step(1); break;
    case "p":
    case "ArrowUp": step(-1); break;
    case "a": if (!form) return; setStatus(form, "approved"); break;
    case "c": if (!form) return; setStatus(form, "changes"); break;
    default: return;
  }
  event.preventDefault();
});

// --- Reordering by drag and drop -------------------------------------------------------------

let dragged = null;

function renumber() {
  items().forEach((item, index) => {
    const n = item.querySelector("[data-role=n]");
    if (n) n.textContent = String(index + 1);
    const [up, down] = item.querySelectorAll("button[name=move]");
    if (up) up.disabled = index === 0;
    if (down) down.disabled = index === items().length - 1;
  });
}

async function saveOrder() {
  const form = document.querySelector("[data-order-form]");
  if (!form) return;
  const data = new FormData(form);
  for (const item of items()) data.append("clip", item.dataset.clip);
  const response = await fetch(form.action, {
    method: "POST",
    body: data,
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  if (response.ok) said("New order saved.");
  else {
    said("The new order could not be saved; showing the playlist as it is.");
    swapIn(await fetchRegion(stage().dataset.clip), ["playlist-items"]);
  }
}

document.addEventListener("dragstart", (event) => {
  const item = event.target instanceof Element && event.target.closest(".playlist-item[draggable=true]");
  if (!item) return;
  dragged = item;
  item.classList.add("is-dragging");
  event.dataTransfer.effectAllowed = "move";
  event.dataTransfer.setData("text/plain", item.dataset.clip);
});

document.addEventListener("dragover", (event) => {
  if (!dragged) return;
  const over = event.target instanceof Element && event.target.closest(".playlist-item");
  if (!over || !list().contains(over)) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = "move";
  if (over === dragged) return;
  const box = over.getBoundingClientRect();
  const after = event.clientY > box.top + box.height / 2;
  list().insertBefore(dragged, after ? over.nextSibling : over);
});

document.addEventListener("drop", (event) => {
  if (dragged) event.preventDefault();
});

document.addEventListener("dragend", () => {
  if (!dragged) return;
  dragged.classList.remove("is-dragging");
  dragged = null;
  renumber();
  saveOrder();
});
