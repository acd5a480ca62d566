// The studio's prompt editor (projects/project.html#draft-form): it fits the screen, remembers which
// folded sections were open, drafts on Ctrl/⌘+Enter, keeps its version chip true to the words shown,
// and warns when a newly chosen first or last frame disagrees with the aspect ratio.
// The editor is swapped whole by htmx (a tier change, a draft), so everything here is delegated or
// re-applied on htmx:load.

const PANEL = "#draft-panel";
const REMEMBER = "dailies.editor.open.";

function panel() {
  return document.querySelector(PANEL);
}

// While the page is not scrolled the editor starts below the project's header: it may only be as tall
// as the room left under its top, so its Draft bar (sticky at its bottom) is always on screen.
function fitToScreen() {
  const editor = panel();
  if (!editor || window.matchMedia("(max-width: 900px)").matches) return;
  const top = Math.max(editor.getBoundingClientRect().top, 12);
  editor.style.maxHeight = `${Math.max(240, window.innerHeight - top - 12)}px`;
}
let fitting = false;
function fitSoon() {
  if (fitting) return;
  fitting = true;
  requestAnimationFrame(() => {
    fitting = false;
    fitToScreen();
  });
}
window.addEventListener("scroll", fitSoon, { passive: true });
window.addEventListener("resize", fitSoon);

// Sections open as the person left them; one holding an error is open whatever was remembered.
function restoreSections(root) {
  for (const section of root.querySelectorAll("details.editor-section[data-section]")) {
    if (section.hasAttribute("data-has-errors")) continue;
    const remembered = localStorage.getItem(REMEMBER + section.dataset.section);
    if (remembered !== null) section.open = remembered === "1";
  }
}
document.addEventListener(
  "toggle",
  (event) => {
    const section = event.target;
    if (section instanceof HTMLDetailsElement && section.matches("details.editor-section[data-section]")) {
      localStorage.setItem(REMEMBER + section.dataset.section, section.open ? "1" : "0");
      fitSoon();
    }
  },
  true,
);

// Ctrl+Enter (⌘+Enter on a Mac) drafts, from anywhere in the editor.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
  const form = event.target instanceof Element && event.target.closest(`${PANEL} form.draft-form`);
  if (!form) return;
  event.preventDefault();
  const button = form.querySelector("button[type=submit]");
  if (button && !button.disabled) form.requestSubmit(button);
});

// The chip names the version whose words are shown; once the words change it says they will be a new one.
function updateChip(form) {
  const editor = form.closest(PANEL);
  const chip = editor && editor.querySelector("[data-version-chip][data-number]");
  if (!chip) return;
  const words = [...form.querySelectorAll("textarea[name=prompt], input[name=negative_prompt]")];
  const edited = words.some((field) => field.value !== field.defaultValue);
  if (!ORIGINAL.has(chip)) ORIGINAL.set(chip, { nodes: [...chip.childNodes], title: chip.title });
  const original = ORIGINAL.get(chip);
  chip.classList.toggle("is-edited", edited);
  if (edited) chip.textContent = `v${chip.dataset.number} edited → v${chip.dataset.next}`;
  else chip.replaceChildren(...original.nodes);
  chip.title = edited
    ? `You changed the words of v${chip.dataset.number}: drafting makes them v${chip.dataset.next}.`
    : original.title;
}
// What each chip said before any edit, to say again when the words are put back as they were.
const ORIGINAL = new WeakMap();
document.addEventListener("input", (event) => {
  const form = event.target instanceof Element && event.target.closest(`${PANEL} form.draft-form`);
  if (form) updateChip(form);
});

// A first or last frame just chosen (not yet uploaded) is measured here; kept images are checked by the
// server beside the quote (tasks.forms.DraftForm.image_warnings), with the same rule.
function ratioOf(aspect) {
  const [width, height] = String(aspect || "").split(":").map(Number);
  return width > 0 && height > 0 ? width / height : null;
}
function shapeWord(ratio) {
  return ratio > 1.1 ? "landscape" : ratio < 0.9 ? "portrait" : "square";
}
async function measure(file) {
  const url = URL.createObjectURL(file);
  try {
    const image = new Image();
    image.src = url;
    await image.decode();
    return { width: image.naturalWidth, height: image.naturalHeight };
  } catch {
    return null;
  } finally {
    URL.revokeObjectURL(url);
  }
}
const LABELS = { first_frame: "The first frame", last_frame: "The last frame" };
async function checkChosenFrames(form) {
  const box = form.querySelector("[data-chosen-image-warnings]") || makeBox(form);
  const aspect = form.querySelector("select[name=aspect_ratio]");
  const frame = ratioOf(aspect && aspect.value);
  const warnings = [];
  for (const [name, label] of Object.entries(LABELS)) {
    const input = form.querySelector(`input[type=file][name=${name}]`);
    const file = input && input.files && input.files[0];
    if (!file || frame === null) continue;
    const size = await measure(file);
    if (!size || !size.height) continue;
    const ratio = size.width / size.height;
    if (Math.max(ratio, frame) / Math.min(ratio, frame) > 1.25) {
      warnings.push(
        `${label} is ${size.width}×${size.height} (${shapeWord(ratio)}) but this draft is ${aspect.value} ` +
          `(${shapeWord(frame)}): the model will crop or pad it. Choose an aspect ratio that matches, or another image.`,
      );
    }
  }
  box.replaceChildren(
    ...warnings.map((words) => {
      const line = document.createElement("p");
      line.className = "warning";
      line.dataset.imageWarning = "";
      line.textContent = words;
      return line;
    }),
  );
}
function makeBox(form) {
  const box = document.createElement("div");
  box.className = "image-warnings";
  box.dataset.chosenImageWarnings = "";
  box.setAttribute("aria-live", "polite");
  const bar = form.querySelector(".draft-bar");
  form.insertBefore(box, bar);
  return box;
}
document.addEventListener("change", (event) => {
  const form = event.target instanceof Element && event.target.closest(`${PANEL} form.draft-form`);
  if (form && event.target.matches("input[type=file], select[name=aspect_ratio]")) checkChosenFrames(form);
});

function setUp(root) {
  const editor = root.matches && root.matches(PANEL) ? root : root.querySelector && root.querySelector(PANEL);
  if (!editor) return;
  restoreSections(editor);
  const form = editor.querySelector("form.draft-form");
  if (form) updateChip(form);
  fitToScreen();
}
document.addEventListener("htmx:load", (event) => {
  setUp(event.target);
  // A new prompt opened in place is ready for its words.
  const words = event.target.querySelector && event.target.querySelector("[data-version-chip].is-new");
  if (words) event.target.querySelector("textarea[name=prompt]")?.focus();
});
setUp(document);
