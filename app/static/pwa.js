/* GradeSync on a phone: the theme switch, the service worker, push on this device, and the
 * offline note. No inline scripts (the Content-Security-Policy forbids them). */
(function () {
  "use strict";

  var KEY = "gradesync-theme";

  // --- Dark mode: follows the system until the student picks; the pick is remembered. ----------

  function currentTheme() {
    var set = document.documentElement.getAttribute("data-theme");
    if (set) { return set; }
    return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  function showTheme(button) {
    var dark = currentTheme() === "dark";
    button.setAttribute("aria-pressed", dark ? "true" : "false");
    button.textContent = dark ? "Light mode" : "Dark mode";
  }

  function setupTheme() {
    var button = document.querySelector("[data-theme-toggle]");
    if (!button) { return; }
    button.hidden = false;
    showTheme(button);
    button.addEventListener("click", function () {
      var next = currentTheme() === "dark" ? "light" : "dark";
      document.documentElement.setAttribute("data-theme", next);
      try { window.localStorage.setItem(KEY, next); } catch (e) { /* not remembered */ }
      showTheme(button);
    });
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", function () {
      showTheme(button);
    });
  }

  // --- Offline: the service worker marked the page; say when its data is from. ---------------

  function setupOffline() {
    var note = document.querySelector("[data-offline-note]");
    if (!note) { return; }
    function update() {
      var offline = document.documentElement.getAttribute("data-offline") === "1" ||
        navigator.onLine === false;
      note.hidden = !offline;
    }
    update();
    window.addEventListener("online", update);
    window.addEventListener("offline", update);
  }

  // --- Service worker and push ----------------------------------------------------------------

  function csrfToken() {
    var input = document.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken(),
                "Accept": "application/json"},
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) { throw new Error(data.error || data.message || "refused"); }
        return data;
      });
    });
  }

  function keyBytes(base64url) {
    var text = (base64url + "===".slice((base64url.length + 3) % 4))
      .replace(/-/g, "+").replace(/_/g, "/");
    var raw = window.atob(text);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }

  function say(status, text) { if (status) { status.textContent = text; } }

  function setupPush(registration) {
    var on = document.querySelector("[data-push-enable]");
    var off = document.querySelector("[data-push-disable]");
    var status = document.querySelector("[data-push-status]");
    if (!on) { return; }
    if (!("PushManager" in window) || !registration) {
      on.disabled = true;
      say(status, "This browser cannot show notifications from a website. On an iPhone, add " +
        "GradeSync to the home screen first and open it from there.");
      return;
    }
    registration.pushManager.getSubscription().then(function (sub) {
      if (sub) { on.hidden = true; off.hidden = false; }
    });
    on.addEventListener("click", function () {
      on.disabled = true;
      fetch(on.getAttribute("data-key-url"), {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (key) {
          if (!key.enabled) { throw new Error("Notifications are turned off on this server."); }
          return registration.pushManager.subscribe({
            userVisibleOnly: true, applicationServerKey: keyBytes(key.publicKey)
          });
        })
        .then(function (sub) { return post(on.getAttribute("data-subscribe-url"), sub.toJSON()); })
        .then(function () {
          on.hidden = true; off.hidden = false;
          say(status, "Notifications are on for this device. Send a test to check.");
        })
        .catch(function (error) {
          say(status, "Notifications could not be turned on: " + error.message);
        })
        .then(function () { on.disabled = false; });
    });
    off.addEventListener("click", function () {
      registration.pushManager.getSubscription().then(function (sub) {
        if (!sub) { return null; }
        var endpoint = sub.endpoint;
        return sub.unsubscribe().then(function () {
          return post(on.getAttribute("data-unsubscribe-url"), {endpoint: endpoint});
        });
      }).then(function () {
        off.hidden = true; on.hidden = false;
        say(status, "Notifications are off for this device.");
      });
    });
  }

  function setupWorker() {
    if (!("serviceWorker" in navigator)) { setupPush(null); return; }
    navigator.serviceWorker.register("/sw.js", {scope: "/"}).then(function (registration) {
      window.__gradesyncWorker = registration;
      setupPush(registration);
    }).catch(function () { setupPush(null); });
    var logout = document.querySelector("form[data-logout]");
    if (logout) {
      logout.addEventListener("submit", function () {
        if (navigator.serviceWorker.controller) {
          navigator.serviceWorker.controller.postMessage("forget-pages");
        }
      });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupTheme();
    setupOffline();
    setupWorker();
  });
})();
