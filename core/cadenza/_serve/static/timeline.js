// Cadenza dashboard: the run page's timeline and agent charts, drawn by the server as SVG
// (_serve/_timelines.py) and asked for again as events arrive (dashboard.js dispatches
// "cadenza:event"). Zoom and pan change the window asked for; no framework, no CDN.
(function () {
  "use strict";
  var section = document.getElementById("run");
  var box = document.getElementById("timeline");
  if (!section || !box) { return; }
  var base = "/api/runs/" + encodeURIComponent(section.getAttribute("data-run"));
  var usageBox = document.getElementById("usage");
  var detail = document.getElementById("bar-detail");
  var follow = document.getElementById("tl-follow");
  var rowsNote = document.getElementById("tl-rows");
  var criticalOnly = document.getElementById("tl-critical");
  var LABEL_W = 200, ROWS = 200, MIN_SPAN = 0.001, THROTTLE_MS = 1000;
  var view = { lo: 0, hi: null, offset: 0, open: [] };
  var shown = { lo: 0, hi: 1, rows: 0, now: 0 };
  var selected = null;
  var loading = false, pending = false, lastLoad = 0, timer = null;

  function svg() { return box.querySelector("svg"); }
  function width() { return Math.max(400, Math.min(8000, Math.floor(box.clientWidth - 2))); }
  function plotWidth() { return Math.max(width() - LABEL_W - 10, 100); }

  function readShown() {
    var s = svg();
    if (!s) { return; }
    shown.lo = parseFloat(s.getAttribute("data-from")) || 0;
    shown.hi = parseFloat(s.getAttribute("data-to")) || 1;
    shown.now = parseFloat(s.getAttribute("data-now")) || 0;
    shown.rows = parseInt(s.getAttribute("data-rows"), 10) || 0;
    var first = parseInt(s.getAttribute("data-offset"), 10) || 0;
    var count = parseInt(s.getAttribute("data-shown"), 10) || 0;
    rowsNote.textContent = shown.rows > count ?
      "rows " + (first + 1) + "\u2013" + (first + count) + " of " + shown.rows.toLocaleString("en-US") : "";
    if (selected) {
      box.querySelectorAll("g.bar[data-attempt]").forEach(function (g) {
        if (keyOf(g) === selected) { g.classList.add("selected"); }
      });
    }
  }
  function keyOf(g) {
    return [g.getAttribute("data-step"), g.getAttribute("data-attempt"), g.getAttribute("data-agent"),
      g.getAttribute("data-kind")].join("\u0000");
  }

  function query() {
    var q = ["width=" + width(), "offset=" + view.offset];
    if (view.lo > 0 || view.hi !== null) { q.push("from=" + view.lo.toFixed(3)); }
    if (view.hi !== null) { q.push("to=" + view.hi.toFixed(3)); }
    if (view.open.length) { q.push("open=" + encodeURIComponent(view.open.join(","))); }
    if (criticalOnly && criticalOnly.checked) { q.push("critical=1"); }
    return q.join("&");
  }

  function load() {
    if (loading) { pending = true; return; }
    loading = true;
    lastLoad = Date.now();
    fetch(base + "/timeline.svg?" + query(), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        if (text) { box.innerHTML = text; readShown(); }
      })
      .finally(function () {
        loading = false;
        if (pending) { pending = false; schedule(); }
      });
  }
  function loadUsage() {
    if (!usageBox) { return; }
    fetch(base + "/usage.svg?width=" + width(), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) { if (text) { usageBox.innerHTML = text; } });
  }
  // At most one drawing a second, however fast events come.
  function schedule() {
    if (timer) { return; }
    var wait = Math.max(0, THROTTLE_MS - (Date.now() - lastLoad));
    timer = setTimeout(function () { timer = null; load(); loadUsage(); }, wait);
  }

  function running() {
    var badge = document.getElementById("run-status");
    return badge && badge.textContent === "running";
  }
  // A big run's page comes without its drawings (_serve/_app.py run_page): ask for them now.
  if (!svg()) { load(); loadUsage(); }
  document.addEventListener("cadenza:event", schedule);
  document.addEventListener("cadenza:end", function () { setTimeout(schedule, 300); });
  // The axis follows a running run even while no event comes.
  setInterval(function () { if (running() && view.hi === null) { schedule(); } }, 2000);

  function setWindow(lo, hi) {
    var span = Math.max(hi - lo, MIN_SPAN);
    lo = Math.max(lo, 0);
    view.lo = lo;
    view.hi = lo + span;
    if (follow.checked && view.hi >= shown.now && running()) { view.hi = null; }
    else { follow.checked = false; }
    load();
  }
  function zoom(factor, at) {
    var span = shown.hi - shown.lo;
    var center = at === undefined ? shown.lo + span / 2 : at;
    var share = (center - shown.lo) / span;
    var next = span * factor;
    setWindow(center - share * next, center - share * next + next);
  }
  function timeAt(clientX) {
    var rect = box.getBoundingClientRect();
    var x = clientX - rect.left + box.scrollLeft - LABEL_W;
    return shown.lo + Math.max(0, Math.min(1, x / plotWidth())) * (shown.hi - shown.lo);
  }

  document.querySelectorAll(".tl-controls button[data-zoom]").forEach(function (b) {
    b.addEventListener("click", function () {
      var how = b.getAttribute("data-zoom");
      if (how === "in") { zoom(0.5); }
      else if (how === "out") { zoom(2); }
      else { view.lo = 0; view.hi = null; follow.checked = true; load(); }
    });
  });
  criticalOnly.addEventListener("change", function () { view.offset = 0; load(); });
  follow.addEventListener("change", function () {
    if (follow.checked) { view.hi = null; load(); }
  });
  document.querySelectorAll(".tl-controls button[data-rows]").forEach(function (b) {
    b.addEventListener("click", function () {
      var next = view.offset + ROWS * parseInt(b.getAttribute("data-rows"), 10);
      if (next < 0 || next >= Math.max(shown.rows, 1)) { return; }
      view.offset = next;
      load();
    });
  });
  box.addEventListener("wheel", function (e) {
    if (!e.ctrlKey && !e.altKey && Math.abs(e.deltaY) < Math.abs(e.deltaX)) { return; }
    e.preventDefault();
    zoom(e.deltaY < 0 ? 0.8 : 1.25, timeAt(e.clientX));
  }, { passive: false });

  var drag = null;
  box.addEventListener("mousedown", function (e) {
    if (e.button !== 0) { return; }
    drag = { x: e.clientX, moved: false };
  });
  window.addEventListener("mousemove", function (e) {
    if (!drag) { return; }
    var dx = e.clientX - drag.x;
    if (Math.abs(dx) > 3) { drag.moved = true; box.classList.add("dragging"); }
    var s = svg();
    if (drag.moved && s) { s.style.transform = "translateX(" + dx + "px)"; }
  });
  window.addEventListener("mouseup", function (e) {
    if (!drag) { return; }
    var moved = drag.moved, dx = e.clientX - drag.x;
    drag = null;
    box.classList.remove("dragging");
    if (!moved) { return; }
    var dt = -dx / plotWidth() * (shown.hi - shown.lo);
    setWindow(shown.lo + dt, shown.hi + dt);
  });

  function add(dl, term, value) {
    if (value === null || value === undefined || value === "") { return; }
    var dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.textContent = term;
    dd.textContent = value;
    dl.appendChild(dt);
    dl.appendChild(dd);
  }
  function showBar(g) {
    box.querySelectorAll("g.bar.selected").forEach(function (o) { o.classList.remove("selected"); });
    g.classList.add("selected");
    selected = g.hasAttribute("data-attempt") ? keyOf(g) : null;
    var step = g.getAttribute("data-step");
    detail.textContent = "";
    var h = document.createElement("h3");
    detail.appendChild(h);
    var dl = document.createElement("dl");
    if (g.hasAttribute("data-count")) {
      h.textContent = step + ": " + g.getAttribute("data-count") + " attempts";
      add(dl, "note", "merged at this zoom: zoom in to see each one");
      add(dl, "worst outcome", g.getAttribute("data-outcome"));
    } else {
      var kind = g.getAttribute("data-kind");
      h.textContent = step + " \u2014 " + (kind === "attempt" ? "attempt " + g.getAttribute("data-attempt") : kind);
      add(dl, "outcome", g.getAttribute("data-outcome"));
      add(dl, "agent", g.getAttribute("data-agent"));
      var queued = parseFloat(g.getAttribute("data-queued"));
      if (queued > 0) {
        add(dl, "queued", queued.toFixed(2) + "s" + (g.getAttribute("data-waited-for") ?
          ", waiting for " + g.getAttribute("data-waited-for").replace("_", " ") : ""));
      }
      var ran = g.getAttribute("data-ran");
      add(dl, "ran", ran ? parseFloat(ran).toFixed(2) + "s" : "still running");
      add(dl, "error", g.getAttribute("data-error"));
      var cost = parseFloat(g.getAttribute("data-cost"));
      if (cost > 0) { add(dl, "cost", "$" + cost.toFixed(4)); }
    }
    detail.appendChild(dl);
    var link = document.createElement("a");
    link.href = "/runs/" + encodeURIComponent(section.getAttribute("data-run")) + "/steps/" +
      encodeURIComponent(step);
    link.textContent = "step page";
    detail.appendChild(link);
  }
  box.addEventListener("click", function (e) {
    var t = e.target;
    var toggle = t.closest ? t.closest("[data-toggle]") : null;
    if (toggle) {
      var id = toggle.getAttribute("data-toggle");
      var at = view.open.indexOf(id);
      if (at >= 0) { view.open.splice(at, 1); } else { view.open.push(id); }
      load();
      return;
    }
    var g = t.closest ? t.closest("g.bar") : null;
    if (g) { showBar(g); }
  });

  // Keyboard: Tab reaches each bar, Enter or Space opens its details.
  box.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" && e.key !== " ") { return; }
    var g = e.target.closest ? e.target.closest("g.bar") : null;
    if (g) { e.preventDefault(); showBar(g); }
  });

  readShown();
  // The page came drawn at a default width: draw again to fit the window.
  load();
  loadUsage();
})();
