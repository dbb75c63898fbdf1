/* Loaded in <head>, before the page paints: the theme the student chose (remembered in
 * localStorage), else none, so the CSS follows prefers-color-scheme. pwa.js wires the button. */
(function () {
  "use strict";
  try {
    var chosen = window.localStorage.getItem("gradesync-theme");
    if (chosen === "dark" || chosen === "light") {
      document.documentElement.setAttribute("data-theme", chosen);
    }
  } catch (e) { /* storage blocked: follow the system */ }
})();
