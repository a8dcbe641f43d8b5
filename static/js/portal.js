// Small progressive enhancements; every page works without them. No inline
// script anywhere (the Content-Security-Policy forbids it): behaviour hangs on
// data- attributes and is delegated from the document, so it also applies to
// table fragments swapped in by HTMX.

document.addEventListener("change", (event) => {
  const form = event.target.closest("form[data-autosubmit]");
  if (form && event.target.matches("select")) form.requestSubmit();
});

// --- endpoint list: select the page, count the selection --------------------

function rowBoxes(form) {
  return Array.from(form.querySelectorAll("input.row-select"));
}

function updateSelection(form) {
  const boxes = rowBoxes(form);
  const ticked = boxes.filter((box) => box.checked).length;
  const pageBox = form.querySelector("[data-select-page]");
  if (pageBox) {
    pageBox.checked = boxes.length > 0 && ticked === boxes.length;
    pageBox.indeterminate = ticked > 0 && ticked < boxes.length;
  }
  const all = form.querySelector("#select-all-matching");
  const counter = form.querySelector("[data-selected-count]");
  if (counter) {
    counter.textContent = all && all.checked
      ? "All matching endpoints selected"
      : ticked ? `${ticked} selected` : "";
  }
}

document.addEventListener("change", (event) => {
  const target = event.target;
  const form = target.closest("#bulk-form");
  if (!form) return;
  if (target.matches("[data-select-page]")) {
    rowBoxes(form).forEach((box) => { box.checked = target.checked; });
  }
  if (target.matches("#select-all-matching") && target.checked) {
    rowBoxes(form).forEach((box) => { box.checked = true; });
  }
  if (target.matches("input.row-select") && !target.checked) {
    const all = form.querySelector("#select-all-matching");
    if (all) all.checked = false;
  }
  updateSelection(form);
});

// --- confirmation page: enable the confirm button once the count is typed ----

function checkTypedCount(input) {
  const form = input.closest("form");
  const button = form && form.querySelector("[data-requires-typed-count]");
  if (!button) return;
  const typed = input.value.replace(/[\s,]/g, "");
  button.disabled = typed !== input.dataset.typedCount;
}

document.addEventListener("input", (event) => {
  if (event.target.matches("input[data-typed-count]")) checkTypedCount(event.target);
});

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("input[data-typed-count]").forEach(checkTypedCount);
});

// --- wide tables: on a narrow screen a table scrolls sideways inside its
// .table-responsive wrapper. One with no link or control inside cannot be
// scrolled from the keyboard, so its wrapper becomes a focusable, named region.

const FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]";

function reachScrollers(root) {
  root.querySelectorAll(".table-responsive:not([tabindex])").forEach((wrapper) => {
    if (wrapper.querySelector(FOCUSABLE)) return;
    const caption = wrapper.querySelector("caption");
    wrapper.tabIndex = 0;
    wrapper.setAttribute("role", "region");
    wrapper.setAttribute("aria-label", caption ? caption.textContent.trim() : "Table");
  });
}

document.addEventListener("DOMContentLoaded", () => reachScrollers(document));
document.addEventListener("htmx:afterSwap", (event) => reachScrollers(event.target));
