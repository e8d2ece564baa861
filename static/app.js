// Notices for htmx actions: the server sends {"notice": "..."} in HX-Trigger on success
// and a plain-text reason with 409 on refusal. Text only (textContent), never HTML.
(function () {
  function show(message, kind) {
    var box = document.getElementById("notices");
    if (!box || !message) return;
    var p = document.createElement("p");
    p.className = "notice " + (kind || "info");
    p.textContent = message;
    box.appendChild(p);
    setTimeout(function () { p.remove(); }, 6000);
  }
  document.addEventListener("notice", function (e) {
    var detail = e.detail;
    show(typeof detail === "string" ? detail : (detail && detail.value), "info");
  });
  document.addEventListener("htmx:responseError", function (e) {
    var xhr = e.detail.xhr;
    if (xhr && xhr.status !== 0 && e.detail.requestConfig && e.detail.requestConfig.verb !== "get") {
      show(xhr.responseText || ("Error " + xhr.status), "error");
    }
  });
})();

// The theme toggle: the system setting until chosen, then the choice, remembered for a
// year in the `theme` cookie so the server renders <html data-theme> without a flash.
(function () {
  var root = document.documentElement;
  function dark() {
    var chosen = root.getAttribute("data-theme");
    if (chosen) return chosen === "dark";
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  }
  function label(button) {
    var on = dark();
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.textContent = on ? "Dark theme: on" : "Dark theme: off";
  }
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.querySelector("[data-theme-toggle]");
    if (!button) return;
    label(button);
    button.addEventListener("click", function () {
      var next = dark() ? "light" : "dark";
      root.setAttribute("data-theme", next);
      document.cookie = "theme=" + next + "; path=/; max-age=31536000; SameSite=Lax";
      label(button);
    });
  });
})();
