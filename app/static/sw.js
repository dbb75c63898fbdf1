/* GradeSync service worker: the dashboard offline, and Web Push notifications.
 *
 * Pages: network first. Each dashboard ("/") that loads is kept in the "pages" cache; with no
 * network, that copy is shown, marked offline (data-offline="1" on <html>) so the page says
 * "as of" when it was synced. Logging out deletes the copy. Static files: network first too,
 * the cached copy when offline. Push: the alert as a notification; a click opens its page.
 */
"use strict";

var PAGES = "gradesync-pages-v1";
var STATIC = "gradesync-static-v1";
var STATIC_FILES = ["/static/style.css", "/static/app.js", "/static/pwa.js",
                    "/static/theme.js", "/static/icons/icon-192.png"];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(STATIC).then(function (cache) {
    return cache.addAll(STATIC_FILES);
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(self.clients.claim());
});

function markOffline(response) {
  return response.text().then(function (html) {
    return new Response(html.replace("<html lang=\"en\"", "<html lang=\"en\" data-offline=\"1\""), {
      status: 200, headers: {"Content-Type": "text/html; charset=utf-8"}
    });
  });
}

function dashboard(request) {
  return fetch(request).then(function (response) {
    var html = (response.headers.get("Content-Type") || "").indexOf("text/html") === 0;
    if (response.ok && !response.redirected && html) {
      var copy = response.clone();
      caches.open(PAGES).then(function (cache) { return cache.put("/", copy); });
    }
    return response;
  }).catch(function () {
    return caches.open(PAGES).then(function (cache) { return cache.match("/"); })
      .then(function (cached) { return cached ? markOffline(cached) : Response.error(); });
  });
}

function staticFile(request) {
  return fetch(request).then(function (response) {
    if (response.ok) {
      var copy = response.clone();
      caches.open(STATIC).then(function (cache) { return cache.put(request, copy); });
    }
    return response;
  }).catch(function () {
    return caches.match(request).then(function (hit) { return hit || Response.error(); });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.method === "POST" && url.pathname === "/logout") {
    event.waitUntil(caches.delete(PAGES));  // no copy of the grades outlives the session
    return;
  }
  if (request.method !== "GET") { return; }
  if (request.mode === "navigate" && url.pathname === "/") {
    event.respondWith(dashboard(request));
  } else if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(staticFile(request));
  }
});

self.addEventListener("message", function (event) {
  if (event.data === "forget-pages") { event.waitUntil(caches.delete(PAGES)); }
});

self.addEventListener("push", function (event) {
  var data = {title: "GradeSync", body: "", url: "/"};
  try { data = Object.assign(data, event.data ? event.data.json() : {}); } catch (e) {
    data.body = event.data ? event.data.text() : "";
  }
  event.waitUntil(self.registration.showNotification(data.title, {
    body: data.body, icon: "/static/icons/icon-192.png", data: {url: data.url}
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var target = (event.notification.data && event.notification.data.url) || "/";
  if (new URL(target, self.location.origin).origin !== self.location.origin) { target = "/"; }
  event.waitUntil(self.clients.openWindow(target));
});
