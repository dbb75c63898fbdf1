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

  function renderResult(panel, state) {
    var box = field(panel, "result");
    box.textContent = "";
    var p = document.createElement("p");
    if (state.status === "succeeded") {
      p.className = "alert alert-success";
      p.textContent = "Sync finished. " + (state.headline || "");
      box.appendChild(p);
      if (state.summary) {
        // The counts a developer wants stay one click away.
        var details = document.createElement("details");
        details.className = "sync-details";
        var summary = document.createElement("summary");
        summary.textContent = "Technical details";
        var counts = document.createElement("p");
        counts.className = "small muted";
        counts.textContent = state.summary + ".";
        details.appendChild(summary);
        details.appendChild(counts);
        box.appendChild(details);
      }
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
      box.appendChild(p);
    }
    box.hidden = false;
    field(panel, "back").hidden = false;
  }

  var reducedMotion = window.matchMedia &&
    window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  // Glide the bar from the last shown value to the reported one, so a quick sync still shows
  // progress instead of jumping from 0 to 100 %; then run `after` (the result, if finished).
  // Courses that arrive together are written within milliseconds, between two polls: the
  // state lists each course's step, and the line names every one the bar passes.
  function moveBar(panel, target, steps, finished, after) {
    var bar = field(panel, "progress");
    var text = field(panel, "percent_text");
    var from = Number(bar.value) || 0;
    function show(value) {
      bar.value = value;
      bar.textContent = value + "%";
      text.textContent = value + "%";
      var passed = null;
      (steps || []).forEach(function (step) {
        if (step.done > (panel.shownDone || 0) && step.total &&
            100 * step.done / step.total <= value) {
          passed = step;
        }
      });
      if (passed) {
        panel.shownDone = passed.done;
        field(panel, "message").textContent = passed.line;
        // The count under the line is the same course's: never "4 of 32" beside "8 of 32".
        field(panel, "counts").textContent = passed.done + " of " + passed.total + " courses";
      }
    }
    window.cancelAnimationFrame(panel.animation || 0);
    if (reducedMotion || target <= from) {
      show(target);
      after();
      return;
    }
    // A finished run plays the courses it passed in a blink (120 ms), then shows its result:
    // the result comes right after the run's end, never under a bar still crawling.
    var duration = finished ? 120 : Math.min(1200, 300 + (target - from) * 9);
    var start = null;
    function step(now) {
      start = start === null ? now : start;
      var t = Math.min(1, (now - start) / duration);
      show(Math.round(from + (target - from) * t));
      if (t < 1) {
        panel.animation = window.requestAnimationFrame(step);
      } else {
        after();
      }
    }
    panel.animation = window.requestAnimationFrame(step);
  }

  function showStatus(panel, state) {
    panel.dataset.status = state.status;
    var badge = field(panel, "status_label");
    badge.textContent = state.status_label;
    badge.className = "badge badge-status-" + state.status;
    field(panel, "phase_label").textContent = state.phase_label;
  }

  function renderState(panel, state) {
    // "Finished" and "Done" wait for the bar to reach its end (a blink, see moveBar).
    if (!state.finished) {
      showStatus(panel, state);
    }
    moveBar(panel, state.percent, state.steps, state.finished, function () {
      if (state.finished) {
        showStatus(panel, state);
      }
      panel.shownDone = Math.max(panel.shownDone || 0, state.courses_done || 0);
      field(panel, "message").textContent = state.finished ? "" : (state.progress_line || "");
      field(panel, "counts").textContent = state.courses_total && !state.finished
        ? state.courses_done + " of " + state.courses_total + " courses"
        : "";
      if (state.finished) {
        renderResult(panel, state);
      }
    });
  }

  // Follow a run by polling its status (data-poll-ms, once a second). The last answer's ETag
  // goes back as If-None-Match: while nothing changed the server answers an empty 304.
  // Where the student waits for the result, the page asks more often (data-poll-fast-ms):
  // in its first seconds (a quick sync ends within them) and once the last course is written.
  var FAST_WINDOW_MS = 5000;
  function followSync(panel) {
    var every = Number(panel.dataset.pollMs) || 1000;
    var fast = Math.min(every, Number(panel.dataset.pollFastMs) || 200);
    var opened = Date.now();
    var last = null;
    var delay = every;
    var etag = null;
    function pace() {
      var ending = last && last.courses_total > 0 && last.courses_done >= last.courses_total;
      return Date.now() - opened < FAST_WINDOW_MS || ending ? fast : every;
    }
    function tick() {
      var headers = { Accept: "application/json" };
      if (etag) {
        headers["If-None-Match"] = etag;
      }
      fetch(panel.dataset.statusUrl, {
        headers: headers,
        credentials: "same-origin",
        cache: "no-store",
      })
        .then(function (response) {
          if (response.status === 304) {
            return null;
          }
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          etag = response.headers.get("ETag");
          return response.json();
        })
        .then(function (state) {
          if (state) {
            last = state;
            renderState(panel, state);
          }
          delay = pace();
          if (!state || !state.finished) {
            window.setTimeout(tick, delay);
          }
        })
        .catch(function () {
          // The server may be restarting: back off, but keep following the run.
          delay = Math.min(Math.max(delay, every) * 2, 10000);
          window.setTimeout(tick, delay);
        });
    }
    tick();
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

  function renderFieldErrors(root, fieldErrors) {
    root.querySelectorAll("input[data-what-if]").forEach(function (input) {
      var id = input.dataset.assignmentId;
      var message = fieldErrors[id];
      var box = root.querySelector('[data-what-if-error="' + id + '"]');
      if (message) {
        input.setAttribute("aria-invalid", "true");
      } else {
        input.removeAttribute("aria-invalid");
      }
      if (box) {
        box.textContent = message || "";
        box.hidden = !message;
      }
    });
  }

  function renderWhatIf(root, result) {
    var grade = result.what_if;
    var percent = formatPercent(grade.percent);
    var letter = grade.letter || "—";
    setText(root, "[data-what-if-percent]", percent);
    setText(root, '[data-what-if-mirror="percent"]', percent);
    // A course without letters shows none, not a dash beside the percentage.
    setText(root, "[data-what-if-letter]", grade.letter || "");
    setText(root, '[data-what-if-mirror="letter"]', letter);
    (grade.groups || []).forEach(function (group) {
      setText(root, '[data-group-what-if="' + group.id + '"]', formatPercent(group.percent));
    });
    var changed = root.querySelector("[data-what-if-changed]");
    if (changed) {
      changed.hidden = !result.changed;
    }
    var fieldErrors = result.field_errors || {};
    renderFieldErrors(root, fieldErrors);
    var errors = root.querySelector("[data-what-if-errors]");
    if (errors) {
      var count = Object.keys(fieldErrors).length;
      var other = (result.errors || []).length - count;
      var text = "";
      if (count) {
        text = count === 1
          ? "1 entry not used: see the box marked in red."
          : count + " entries not used: see the boxes marked in red.";
      } else if (other > 0) {
        text = (result.errors || []).join(" ");
      }
      errors.textContent = text;
      errors.hidden = text === "";
    }
    var needed = root.querySelector("[data-needed-result]");
    if (needed) {
      needed.textContent = result.needed ? result.needed.message : "";
    }
    root.classList.remove("is-pending");
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
      var assume = form.querySelector("[name=target_assume]");
      if (target && assignment && target.value.trim() !== "" && assignment.value) {
        body.target = {
          assignment_id: assignment.value,
          percent: target.value.trim(),
          assume: assume ? assume.value : "exclude",
        };
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
      // Until the answer arrives, the figures on screen are for the previous entries.
      root.classList.add("is-pending");
      window.clearTimeout(timer);
      timer = window.setTimeout(recompute, 250);
    }
    form.addEventListener("input", schedule);
    form.addEventListener("change", function (event) {
      // Text boxes already reported each keystroke; selects only say "change".
      if (event.target.tagName === "SELECT") {
        schedule();
      }
    });
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
