// Small behaviours for the studio pages; everything else is server-rendered HTMX.
(function () {
  "use strict";
  // The page's one refresh asks only while some card on it is still in flight (tasks/_live_cards.html):
  // a tick with nothing to follow is skipped before it is sent.
  document.addEventListener("htmx:confirm", (event) => {
    const follows = event.target.dataset && event.target.dataset.whileFollowed;
    if (follows && document.querySelector(follows) === null) event.preventDefault();
  });
  // Live cards count their seconds here; the server sends a card again only when what it shows changes.
  setInterval(() => {
    const now = Date.now() / 1000;
    for (const clock of document.querySelectorAll("[data-role=elapsed][data-since]")) {
      clock.textContent = `${Math.max(0, Math.round(now - Number(clock.dataset.since)))} s`;
    }
  }, 1000);
  // Unticking a kept image removes its id from the hidden field the server reads.
  document.addEventListener("change", (event) => {
    const box = event.target;
    if (!(box instanceof HTMLInputElement) || !box.dataset.keeps || !box.form) return;
    const slot = box.dataset.keeps;
    const ids = [...box.form.querySelectorAll(`input[data-keeps="${slot}"]:checked`)].map((kept) => kept.value);
    box.form.querySelector(`input[name="${slot}"]`).value = ids.join(",");
  });
  // A form that may spend its quote twice, or removes someone, asks first (data-confirm).
  document.addEventListener("submit", (event) => {
    const words = event.target.dataset && event.target.dataset.confirm;
    if (words && !window.confirm(words)) event.preventDefault();
  });
  // The invitation link is selected whole, ready to copy.
  document.addEventListener("click", (event) => {
    if (event.target instanceof HTMLInputElement && event.target.hasAttribute("data-select-on-click")) event.target.select();
  });
  // A quote over the budget disables its form's submit button (the server refuses it anyway).
  document.addEventListener("htmx:afterSettle", (event) => {
    const form = event.target.closest && event.target.closest("form[data-quote]");
    const button = form && form.querySelector("button[type=submit]");
    if (button) button.disabled = form.querySelector(`${form.dataset.quote} [data-over-budget]`) !== null;
  });
  // Sizes the server knows, set here: the CSP lets no page carry a style attribute. Cards swapped in
  // later get theirs as they arrive, before the browser paints them.
  const SIZED = ["data-percent", "data-columns", "data-aspect"];
  function applySizes(root) {
    const selector = SIZED.map((name) => `[${name}]`).join(",");
    const elements = [...(root.matches && root.matches(selector) ? [root] : []), ...root.querySelectorAll(selector)];
    for (const element of elements) {
      const { percent, columns, aspect } = element.dataset;
      if (percent !== undefined) element.style.width = `${Math.min(100, Math.max(0, Number(percent) || 0))}%`;
      if (columns !== undefined) element.style.setProperty("--columns", columns);
      if (aspect !== undefined) element.style.setProperty("--aspect", aspect);
    }
  }
  applySizes(document);
  new MutationObserver((changes) => {
    for (const change of changes) {
      if (change.type === "attributes") applySizes(change.target);
      for (const node of change.addedNodes) if (node instanceof Element) applySizes(node);
    }
  }).observe(document.documentElement, { childList: true, subtree: true, attributes: true, attributeFilter: SIZED });
})();
