/* evalkit static site: sortable tables, table filters, the sample browser.
   Plain DOM, no dependencies; works from file://. Model text is only ever
   read as textContent, never written as HTML. */
"use strict";

const BLANK = /^(|—|-)$/;

function cellKey(td) {
  const raw = (td.dataset.sort !== undefined ? td.dataset.sort : td.textContent).trim();
  const num = parseFloat(raw.replace(/^#/, ""));
  return { raw: raw, blank: BLANK.test(raw), num: /^#?[+-]?(\d|\.\d)/.test(raw) && !isNaN(num) ? num : null };
}

function sortTable(table, col, th) {
  const body = table.tBodies[0];
  if (!body) return;
  const asc = th.getAttribute("aria-sort") !== "ascending";
  table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
  th.setAttribute("aria-sort", asc ? "ascending" : "descending");
  const rows = Array.from(body.rows).map(function (tr, i) { return { tr: tr, key: cellKey(tr.cells[col]), i: i }; });
  // A column sorts as numbers when every non-blank cell is one; blanks go last either way.
  const numeric = rows.every(function (r) { return r.key.blank || r.key.num !== null; });
  rows.sort(function (a, b) {
    if (a.key.blank !== b.key.blank) return a.key.blank ? 1 : -1;
    const c = numeric ? (a.key.num || 0) - (b.key.num || 0) : a.key.raw.localeCompare(b.key.raw);
    return (asc ? c : -c) || a.i - b.i;
  });
  rows.forEach(function (r) { body.appendChild(r.tr); });
}

function initSortable() {
  document.querySelectorAll("table.sortable").forEach(function (table) {
    const head = table.tHead;
    if (!head) return;
    Array.from(head.rows[0].cells).forEach(function (th, col) {
      th.tabIndex = 0;
      th.title = "sort";
      th.addEventListener("click", function () { sortTable(table, col, th); });
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") sortTable(table, col, th); });
    });
  });
}

function initTableFilters() {
  document.querySelectorAll("input[data-filter-table]").forEach(function (input) {
    const table = document.getElementById(input.dataset.filterTable);
    if (!table || !table.tBodies[0]) return;
    input.addEventListener("input", function () {
      const q = input.value.trim().toLowerCase();
      Array.from(table.tBodies[0].rows).forEach(function (tr) {
        tr.hidden = q !== "" && tr.textContent.toLowerCase().indexOf(q) === -1;
      });
    });
  });
}

function initSamples() {
  const list = document.getElementById("samples");
  if (!list) return;
  const wrong = document.getElementById("wrong-only");
  const flipSel = document.getElementById("flip-run");
  // the task's newest runs, newest first; this run is not compared with itself
  const flips = {};
  (window.evalkitFlips || []).filter(function (f) { return f.run !== list.dataset.run; })
    .slice(0, parseInt(flipSel.dataset.max, 10) || 20)
    .forEach(function (f) {
      flips[f.run] = f;
      const opt = document.createElement("option");
      opt.value = f.run;
      opt.textContent = f.label;
      flipSel.appendChild(opt);
    });
  const search = document.getElementById("sample-search");
  const count = document.getElementById("shown-count");
  const items = Array.from(list.querySelectorAll("details.sample"));
  const text = new Map();

  function update() {
    const q = search.value.trim().toLowerCase();
    const other = flipSel.value ? flips[flipSel.value].scores : null;
    let shown = 0;
    items.forEach(function (el) {
      const score = parseFloat(el.dataset.score);
      const badge = el.querySelector(".other");
      let show = !wrong.checked || score < 1;
      if (other) {
        const o = other[el.dataset.doc];
        show = show && o !== undefined && o !== null && parseFloat(o) !== score;
        badge.hidden = o === undefined || o === null;
        badge.textContent = badge.hidden ? "" : "vs " + Number(o).toPrecision(3) + (parseFloat(o) > score ? " ▼" : parseFloat(o) < score ? " ▲" : "");
      } else {
        badge.hidden = true;
      }
      if (show && q) {
        if (!text.has(el)) text.set(el, el.textContent.toLowerCase());
        show = text.get(el).indexOf(q) !== -1;
      }
      el.hidden = !show;
      if (show) shown += 1;
    });
    count.textContent = shown + " of " + items.length + " shown";
  }

  [wrong, flipSel].forEach(function (el) { el.addEventListener("change", update); });
  search.addEventListener("input", update);
  document.getElementById("sample-controls").addEventListener("submit", function (e) { e.preventDefault(); });
  if (location.hash) {
    const target = document.getElementById(location.hash.slice(1));
    if (target && target.tagName === "DETAILS") target.open = true;
  }
  update();
}

document.addEventListener("DOMContentLoaded", function () {
  initSortable();
  initTableFilters();
  initSamples();
});
