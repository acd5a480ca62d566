// The editor's image inputs as drop zones (templates/projects/_image_field.html). The real file input
// covers its zone unseen, so clicks and the keyboard reach it as ever; here a drop anywhere on the zone
// picks the file(s), only JPG, PNG or WebP, and whatever is chosen shows at once as a preview (name,
// size in pixels, a Remove button). A pick always ends in a bubbling "change" on the input, which the
// editor listens for (editor.js measures a chosen frame against the aspect ratio).
const KINDS = ["image/jpeg", "image/png", "image/webp"];
const previews = new WeakMap(); // input → the object URLs its preview holds, freed when it changes

const zoneOf = (target) => (target instanceof Element ? target.closest("[data-image-drop]") : null);
const inputOf = (zone) => zone.querySelector("input[type=file]");

function carriesFiles(event) {
  return event.dataTransfer && [...event.dataTransfer.types].includes("Files");
}

for (const type of ["dragenter", "dragover"]) {
  document.addEventListener(type, (event) => {
    const zone = zoneOf(event.target);
    if (!zone || !carriesFiles(event)) return;
    event.preventDefault(); // allows the drop
    event.dataTransfer.dropEffect = "copy";
    zone.classList.add("is-over");
  });
}

document.addEventListener("dragleave", (event) => {
  const zone = zoneOf(event.target);
  if (zone && !zone.contains(event.relatedTarget)) zone.classList.remove("is-over");
});

document.addEventListener("drop", (event) => {
  const zone = zoneOf(event.target);
  if (!zone || !carriesFiles(event)) return;
  event.preventDefault();
  zone.classList.remove("is-over");
  const input = inputOf(zone);
  const images = [...event.dataTransfer.files].filter((file) => KINDS.includes(file.type));
  if (images.length === 0) {
    say(input, "Only JPG, PNG or WebP images can go here.");
    return;
  }
  const chosen = new DataTransfer();
  for (const file of input.multiple ? images : images.slice(0, 1)) chosen.items.add(file);
  input.files = chosen.files;
  input.dispatchEvent(new Event("change", { bubbles: true }));
});

document.addEventListener("change", (event) => {
  const input = event.target;
  if (input instanceof HTMLInputElement && input.type === "file" && zoneOf(input)) show(input);
});

document.addEventListener("click", (event) => {
  const button = event.target instanceof Element ? event.target.closest("[data-image-drop-remove]") : null;
  if (!button) return;
  const input = document.getElementById(button.dataset.imageDropRemove);
  if (!input) return;
  input.value = "";
  input.dispatchEvent(new Event("change", { bubbles: true }));
  input.focus();
});

function boxOf(input) {
  return input.form && input.form.querySelector(`[data-chosen-for="${CSS.escape(input.id)}"]`);
}

function free(input) {
  for (const url of previews.get(input) || []) URL.revokeObjectURL(url);
  previews.delete(input);
}

// A refused drop: said above whatever is still chosen, which stays chosen.
function say(input, words) {
  const box = boxOf(input);
  if (!box) return;
  show(input);
  box.prepend(Object.assign(document.createElement("p"), { className: "warning", textContent: words }));
  box.hidden = false;
}

function show(input) {
  const box = boxOf(input);
  if (!box) return;
  free(input);
  const files = [...(input.files || [])];
  zoneOf(input).classList.toggle("has-file", files.length > 0);
  box.hidden = files.length === 0;
  if (files.length === 0) {
    box.replaceChildren();
    return;
  }
  const urls = files.map((file) => URL.createObjectURL(file));
  previews.set(input, urls);
  const figures = files.map((file, index) => {
    const figure = document.createElement("figure");
    const image = Object.assign(document.createElement("img"), { src: urls[index], alt: "" });
    const caption = document.createElement("figcaption");
    const name = Object.assign(document.createElement("strong"), { textContent: file.name });
    const facts = Object.assign(document.createElement("span"), {
      className: "muted",
      textContent: file.size < 1e6 ? `${Math.max(1, Math.round(file.size / 1e3))} KB` : `${(file.size / 1e6).toFixed(1)} MB`,
    });
    image.decode().then(
      () => (facts.textContent = `${image.naturalWidth}×${image.naturalHeight} · ${facts.textContent}`),
      () => (facts.textContent = "not a picture this browser can read"),
    );
    caption.append(name, facts);
    figure.append(image, caption);
    return figure;
  });
  const remove = Object.assign(document.createElement("button"), {
    type: "button",
    className: "link",
    textContent: files.length > 1 ? "Remove these" : "Remove",
  });
  remove.dataset.imageDropRemove = input.id;
  box.replaceChildren(...figures, remove);
}
