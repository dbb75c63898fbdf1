/* GradeSync browser code: the live sync progress panel and the what-if grade calculator.
 *
 * No build step and no inline scripts (the Content-Security-Policy forbids them): the pages
 * carry their URLs and data in data-* attributes, and this file finds them on load.
 */
(function () {
  "use strict";

  // --- Sync progress --------------------------------------------------------------------------

  function field(panel, name) {
    return panel.querySelector('[data-field="' + name + '"]');
  }

  function plural(count, noun) {
    return count + " " + noun + (count === 1 ? "" : "s");
  }

  function renderResult(panel, state) {
    var box = field(panel, "result");
    box.textContent = "";
    var p = document.createElement("p");
    if (state.status === "succeeded") {
      p.className = "alert alert-success";
      p.textContent = "Sync finished: " + (state.summary || "done") + ".";
    } else {
      p.className = "alert alert-error";
      p.textContent = (state.error || "The sync did not finish.") + " ";
      if (state.error_kind === "token") {
        var link = document.createElement("a");
        link.href = state.settings_url || panel.dataset.settingsUrl;
        link.textContent = "Check your Canvas token in Settings";
        p.appendChild(link);
        p.appendChild(document.createTextNode("."));
      }
    }
    box.appendChild(p);
    box.hidden = false;
    field(panel, "back").hidden = false;
  }

  function renderState(panel, state) {
    panel.dataset.status = state.status;
    var badge = field(panel, "status_label");
    badge.textContent = state.status_label;
    badge.className = "badge badge-status-" + state.status;
    field(panel, "phase_label").textContent = state.phase_label;
    field(panel, "percent_text").textContent = state.percent + "%";
    var bar = field(panel, "progress");
    bar.value = state.percent;
    bar.textContent = state.percent + "%";
    field(panel, "message").textContent = state.message || "";
    var counts = state.courses_total
      ? state.courses_done + " of " + state.courses_total + " courses · "
      : "";
    field(panel, "counts").textContent = counts + plural(state.requests, "request");
    if (state.finished) {
      renderResult(panel, state);
    }
  }

  function pollStatus(panel) {
    var delay = 1000;
    function tick() {
      fetch(panel.dataset.statusUrl, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (state) {
          renderState(panel, state);
          if (!state.finished) {
            window.setTimeout(tick, delay);
          }
        })
        .catch(function () {
          // The server may be restarting: back off, but keep following the run.
          delay = Math.min(delay * 2, 10000);
          window.setTimeout(tick, delay);
        });
    }
    tick();
  }

  function followSync(panel) {
    if (!window.EventSource) {
      pollStatus(panel);
      return;
    }
    var source = new EventSource(panel.dataset.eventsUrl);
    var received = false;
    function onState(event) {
      received = true;
      var state = JSON.parse(event.data);
      renderState(panel, state);
      if (state.finished) {
        source.close();
      }
    }
    source.addEventListener("progress", onState);
    source.addEventListener("done", onState);
    source.addEventListener("gone", function () {
      source.close();
    });
    source.onerror = function () {
      // EventSource reconnects by itself after a stream ends; if it never worked
      // (a proxy that buffers or blocks streams), fall back to polling.
      if (!received) {
        source.close();
        pollStatus(panel);
      }
    };
  }

  // --- What-if grades -------------------------------------------------------------------------

  function formatPercent(value) {
    return value === null || value === undefined ? "—" : value.toFixed(2) + "%";
  }

  function collectScores(form) {
    var scores = {};
    form.querySelectorAll("input[data-what-if]").forEach(function (input) {
      var text = input.value.trim();
      if (text !== "") {
        scores[input.dataset.assignmentId] = text;
      }
    });
    return scores;
  }

  function setText(root, selector, text) {
    root.querySelectorAll(selector).forEach(function (el) {
      el.textContent = text;
    });
  }

  function renderWhatIf(root, result) {
    var grade = result.what_if;
    setText(root, "[data-what-if-percent]", formatPercent(grade.percent));
    setText(root, "[data-what-if-letter]", grade.letter || "—");
    (grade.groups || []).forEach(function (group) {
      setText(root, '[data-group-what-if="' + group.id + '"]', formatPercent(group.percent));
    });
    var changed = root.querySelector("[data-what-if-changed]");
    if (changed) {
      changed.hidden = !result.changed;
    }
    var errors = root.querySelector("[data-what-if-errors]");
    if (errors) {
      errors.textContent = (result.errors || []).join(" ");
      errors.hidden = !(result.errors && result.errors.length);
    }
    var needed = root.querySelector("[data-needed-result]");
    if (needed) {
      needed.textContent = result.needed ? result.needed.message : "";
    }
  }

  function setupWhatIf(root) {
    var form = root.querySelector("form[data-what-if-form]");
    if (!form) {
      return;
    }
    var timer = null;
    var sequence = 0;
    function recompute() {
      var mine = ++sequence;
      var body = { scores: collectScores(form) };
      var target = form.querySelector("[name=target_percent]");
      var assignment = form.querySelector("[name=target_assignment]");
      if (target && assignment && target.value.trim() !== "" && assignment.value) {
        body.target = { assignment_id: assignment.value, percent: target.value.trim() };
      }
      fetch(root.dataset.whatIfUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": root.dataset.csrfToken,
        },
        body: JSON.stringify(body),
      })
        .then(function (response) {
          return response.json();
        })
        .then(function (result) {
          if (mine === sequence && result.what_if) {
            renderWhatIf(root, result);
          }
        })
        .catch(function () {
          /* keep the last numbers; the next keystroke tries again */
        });
    }
    function schedule() {
      window.clearTimeout(timer);
      timer = window.setTimeout(recompute, 250);
    }
    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      recompute();
    });
    form.addEventListener("reset", function () {
      window.setTimeout(recompute, 0);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-sync-panel]").forEach(function (panel) {
      if (panel.dataset.status === "queued" || panel.dataset.status === "running") {
        followSync(panel);
      }
    });
    document.querySelectorAll("[data-what-if-root]").forEach(setupWhatIf);
  });
})();
