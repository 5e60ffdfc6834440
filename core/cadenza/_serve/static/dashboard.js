// Cadenza dashboard: live run page. No framework; every asset is served by the package.
(function () {
  "use strict";
  var section = document.getElementById("run");
  if (!section) { return; }
  var runId = section.getAttribute("data-run");
  var base = "/api/runs/" + encodeURIComponent(runId);
  var STATES = ["pending", "ready", "running", "retrying", "succeeded", "restored", "failed",
    "skipped", "cancelled", "interrupted"];

  function setState(el, state) {
    if (!el) { return; }
    STATES.forEach(function (s) { el.classList.remove("state-" + s); });
    el.classList.add("state-" + state);
  }
  function node(stepId) {
    var found = null;
    document.querySelectorAll("#graph g.node[data-step]").forEach(function (g) {
      if (g.getAttribute("data-step") === stepId) { found = g; }
    });
    return found;
  }
  function row(stepId) { return document.getElementById("step-" + stepId); }
  function secs(v) { return typeof v === "number" ? v.toFixed(2) + "s" : "-"; }
  function cell(r, cls, text) {
    var c = r && r.querySelector("td." + cls);
    if (c) { c.textContent = text; }
  }
  function text(tag, content, cls) {
    var el = document.createElement(tag);
    el.textContent = content;
    if (cls) { el.className = cls; }
    return el;
  }

  var SVG = "http://www.w3.org/2000/svg";
  function itemsText(t) {
    var extra = [];
    [["failed", "failed"], ["skipped", "skipped"], ["cancelled", "cancelled"],
      ["running", "in flight"]].forEach(function (p) {
      if (t[p[0]]) { extra.push(t[p[0]].toLocaleString("en-US") + " " + p[1]); }
    });
    return t.done.toLocaleString("en-US") + "/" + t.total.toLocaleString("en-US") + " done" +
      (extra.length ? " (" + extra.join(", ") + ")" : "");
  }
  // A for_each step's node: its detail line says how many items are done, a bar shows it.
  function applyItemsToNode(g, t) {
    if (!g) { return; }
    var detail = g.querySelector("text.detail");
    var box = g.querySelector("rect.box");
    if (!box) { return; }
    var x = parseFloat(box.getAttribute("x")), y = parseFloat(box.getAttribute("y"));
    var w = parseFloat(box.getAttribute("width")), h = parseFloat(box.getAttribute("height"));
    if (detail) {
      // The box was sized for its "uses:" line: squeeze the counts in rather than overflow.
      detail.textContent = t.done + "/" + t.total + " items";
      detail.removeAttribute("textLength");
      var room = w - 2 * (parseFloat(detail.getAttribute("x")) - x);
      if (detail.getComputedTextLength && detail.getComputedTextLength() > room) {
        detail.setAttribute("lengthAdjust", "spacingAndGlyphs");
        detail.setAttribute("textLength", String(room));
      }
    }
    var bar = g.querySelector("rect.items-bar");
    if (!bar) {
      bar = document.createElementNS(SVG, "rect");
      bar.setAttribute("class", "items-bar");
      bar.setAttribute("height", "4");
      g.appendChild(bar);
    }
    bar.setAttribute("x", String(x + 3));
    bar.setAttribute("y", String(y + h - 7));
    bar.setAttribute("width", String(t.total ? (w - 6) * t.done / t.total : w - 6));
  }
  function applyItemsToRow(r, t) {
    var c = r && r.querySelector("td.items");
    if (!c) { return; }
    var bar = c.querySelector("progress");
    if (!bar) {
      c.textContent = "";
      bar = document.createElement("progress");
      c.appendChild(bar);
      c.appendChild(text("span", "", "items-text"));
    }
    bar.max = t.total;
    bar.value = t.done;
    c.querySelector("span.items-text").textContent = itemsText(t);
  }

  function applyStep(stepId, s) {
    setState(node(stepId), s.state);
    if (s.items) {
      applyItemsToNode(node(stepId), s.items);
      applyItemsToRow(row(stepId), s.items);
    }
    var r = row(stepId);
    setState(r, s.state);
    r && r.classList.add("step");
    cell(r, "state", s.state);
    cell(r, "attempts", String(s.attempts));
    cell(r, "agent", s.agent || "-");
    cell(r, "duration", secs(s.duration));
    cell(r, "flags", s.degraded ? "degraded" : "");
  }

  // A big run's DAG is a table of layers: their counts follow the run.
  function applyLayer(layer) {
    var r = document.getElementById("layer-" + layer.layer);
    if (!r) { return; }
    var parts = [];
    Object.keys(layer.counts).forEach(function (k) {
      parts.push(layer.counts[k].toLocaleString("en-US") + " " + k);
    });
    cell(r, "counts", parts.join(", "));
    var bar = r.querySelector("progress");
    if (bar) { bar.value = layer.counts.succeeded || 0; }
  }

  var refreshing = false, again = false;
  function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    var page = section.getAttribute("data-page");  // a big run: the page of steps shown
    fetch(base + (page ? "?page=" + encodeURIComponent(page) : ""), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (run) {
        Object.keys(run.steps).forEach(function (sid) { applyStep(sid, run.steps[sid]); });
        (run.layers || []).forEach(applyLayer);
        var badge = document.getElementById("run-status");
        badge.textContent = run.status;
        setState(badge, run.status);
        document.getElementById("run-cost").textContent =
          run.cost_usd === null ? "-" : String(run.cost_usd);
        if (run.status !== "running") {
          var b = document.getElementById("cancel");
          if (b) { b.remove(); }
        }
      })
      .finally(function () {
        refreshing = false;
        if (again) { again = false; refresh(); }
      });
  }

  function showStep(stepId) {
    document.querySelectorAll("tr.step.selected").forEach(function (r) { r.classList.remove("selected"); });
    var r = row(stepId);
    r && r.classList.add("selected");
    fetch(base + "/steps/" + encodeURIComponent(stepId) + "?state=failed",
      { credentials: "same-origin" })
      .then(function (resp) { return resp.json(); })
      .then(function (s) {
        var panel = document.getElementById("panel");
        panel.textContent = "";
        panel.appendChild(text("h2", s.step_id + " \u2014 " + s.state + (s.degraded ? " (degraded)" : "")));
        panel.appendChild(text("p", "agent " + (s.agent || "-") + ", " + s.attempts +
          " attempt(s), time " + secs(s.duration) + ", cost " + (s.cost_usd === null ? "-" : s.cost_usd)));
        if (s.last_error) { panel.appendChild(text("p", s.error_type + ": " + s.last_error, "error")); }
        if (s.reason) { panel.appendChild(text("p", s.reason)); }
        if (s.items) {
          panel.appendChild(text("p", "items: " + itemsText(s.items)));
          s.items_page.rows.forEach(function (i) {
            if (i.state === "failed") {
              panel.appendChild(text("p", i.step_id + " " + i.error_type + ": " + i.last_error, "error"));
            }
          });
        }
        s.attempts_detail.forEach(function (a) {
          var line = "#" + a.attempt + " " + (a.agent || "?") + " " + a.outcome +
            ", waited " + secs(a.queue_wait) +
            (a.waited_for ? " for " + a.waited_for.replace("_", " ") : "") +
            ", took " + secs(a.duration);
          if (a.route) { line += " \u2014 chosen by " + a.route.strategy + ": " + a.route.reason; }
          if (a.error_type) { line += " \u2014 " + a.error_type + ": " + a.message; }
          if (a.retry_in !== undefined && a.retry_in !== null) { line += " (retry in " + secs(a.retry_in) + ")"; }
          if (a.cost_usd !== undefined) { line += " \u2014 $" + a.cost_usd; }
          panel.appendChild(text("p", line));
        });
        if (s.inputs !== null && s.inputs !== undefined) {
          panel.appendChild(text("h3", "inputs"));
          panel.appendChild(text("pre", JSON.stringify(s.inputs, null, 2)));
        }
        if (s.output !== null && s.output !== undefined && !s.items) {
          panel.appendChild(text("h3", "output"));
          panel.appendChild(text("pre", JSON.stringify(s.output, null, 2)));
        }
        var link = document.createElement("a");
        link.href = "/runs/" + encodeURIComponent(runId) + "/steps/" + encodeURIComponent(s.step_id);
        link.textContent = s.items ? "step page: every item, 100 a page" : "step page";
        panel.appendChild(link);
      });
  }

  document.querySelectorAll("tr.step").forEach(function (r) {
    r.addEventListener("click", function (e) {
      if (e.target.tagName === "A") { return; }
      showStep(r.getAttribute("data-step"));
    });
  });
  document.querySelectorAll("#graph g.node[data-step]").forEach(function (g) {
    g.style.cursor = "pointer";
    g.addEventListener("click", function () { showStep(g.getAttribute("data-step")); });
  });

  var cancel = document.getElementById("cancel");
  if (cancel) {
    cancel.addEventListener("click", function () {
      if (!window.confirm("Cancel run " + runId + "?")) { return; }
      cancel.disabled = true;
      fetch(base + "/cancel", { method: "POST", credentials: "same-origin", headers: { "X-Cadenza": "1" } })
        .then(function (r) { return r.json(); })
        .then(function (res) {
          cancel.textContent = res.cancel_requested ? "cancel requested" : (res.error ? "cannot cancel" : res.status);
          if (res.error) { cancel.title = res.error; }
        });
    });
  }

  // Approval gates: POST with X-Cadenza and a JSON body (see _serve/_approvals.py: CSRF).
  document.querySelectorAll("form.approval").forEach(function (form) {
    var stepId = form.getAttribute("data-step");
    var result = form.querySelector(".approval-result");
    form.querySelectorAll("button[data-approved]").forEach(function (button) {
      button.addEventListener("click", function () {
        var approved = button.getAttribute("data-approved") === "true";
        var reason = form.querySelector("input[name=reason]");
        form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
        fetch(base + "/approvals/" + encodeURIComponent(stepId), {
          method: "POST", credentials: "same-origin",
          headers: { "X-Cadenza": "1", "Content-Type": "application/json" },
          body: JSON.stringify({ approved: approved, reason: reason ? reason.value : "" })
        })
          .then(function (r) { return r.json(); })
          .then(function (res) {
            if (res.error) {
              result.textContent = res.error;
              form.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
            } else {
              result.textContent = (res.approved ? "approved" : "rejected") + " by " + res.by;
            }
          });
      });
    });
  });

  refresh();
  var list = document.getElementById("events");
  var MAX_EVENTS = 500;
  // The whole history fills the events list (a big run's: its latest events); refresh() coalesces
  var after = section.getAttribute("data-after") || "-1";
  var source = new EventSource(base + "/events?after=" + encodeURIComponent(after));
  function onEvent(e) {
    var data = JSON.parse(e.data);
    var line = data.seq + " " + data.kind + (data.step_id ? " " + data.step_id : "");
    if (data.agent) { line += " [" + data.agent + "]"; }
    list.appendChild(text("li", line));
    // A 10,000-item step sends tens of thousands of events: keep the latest few.
    while (list.childElementCount > MAX_EVENTS) { list.removeChild(list.firstElementChild); }
    list.scrollTop = list.scrollHeight;
    refresh();
    document.dispatchEvent(new CustomEvent("cadenza:event", { detail: data }));  // timeline.js
  }
  ["run_started", "run_resumed", "step_ready", "attempt_started", "attempt_failed", "step_succeeded",
    "step_cache_hit", "step_mapped", "step_failed", "step_skipped", "step_cancelled", "fallback_started",
    "route_chosen", "output_validated", "cost_incurred", "answers_combined", "step_conflict",
    "circuit_changed", "agent_health_changed", "run_finished"].forEach(function (kind) {
    source.addEventListener(kind, onEvent);
  });
  source.addEventListener("end", function () {
    source.close();
    refresh();
    document.dispatchEvent(new CustomEvent("cadenza:end"));
  });
  source.onerror = function () {
    // A refused stream (429: too many open) is not retried by the browser: say so.
    if (source.readyState === EventSource.CLOSED) {
      list.appendChild(text("li", "live updates stopped: reload the page to follow the run again",
        "note"));
    }
  };
})();
