// The page's phrases in the reader's language (base.html's #ui-words, from words.py):
// word("s_ago", "{n} s ago", {n: 40}) gives the English fallback when the block is missing.
window.word = function (key, fallback, values) {
  if (!window.uiWords) {
    var block = document.getElementById("ui-words");
    try { window.uiWords = block ? JSON.parse(block.textContent) : {}; } catch (e) { window.uiWords = {}; }
  }
  var text = window.uiWords[key] || fallback;
  Object.keys(values || {}).forEach(function (k) { text = text.split("{" + k + "}").join(String(values[k])); });
  return text;
};

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
      show(xhr.responseText || word("error_n", "Error {status}", {status: xhr.status}), "error");
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
    button.textContent = on ? word("dark_on", "Dark theme: on") : word("dark_off", "Dark theme: off");
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

// Relative times ("3 min ago") rendered by the server stay current between list
// updates (the poll answers 204 while nothing changed): same wording as humanize.py.
(function () {
  function ago(seconds) {
    if (seconds < 10) return word("just_now", "just now");
    if (seconds < 60) return word("s_ago", "{n} s ago", {n: Math.floor(seconds)});
    if (seconds < 3600) return word("min_ago", "{n} min ago", {n: Math.floor(seconds / 60)});
    if (seconds < 86400) return word("h_ago", "{n} h ago", {n: Math.floor(seconds / 3600)});
    return word("d_ago", "{n} d ago", {n: Math.floor(seconds / 86400)});
  }
  function refresh() {
    var now = Date.now();
    document.querySelectorAll("time[data-relative]").forEach(function (t) {
      var at = Date.parse(t.getAttribute("datetime"));
      if (!isNaN(at)) t.textContent = ago(Math.max(0, (now - at) / 1000));
    });
  }
  setInterval(refresh, 30000);
})();

// Live updates: polls pause while the tab is hidden (Page Visibility) and resume when it
// is shown; when the server cannot be reached the page says so, and says when it is back.
(function () {
  var lost = false;
  function isPoll(detail) {
    var verb = detail.requestConfig ? detail.requestConfig.verb : (detail.verb || "get");
    var trigger = detail.elt && detail.elt.getAttribute("hx-trigger") || "";
    return verb === "get" && trigger.indexOf("every") !== -1;
  }
  function say(text, kind) {
    var box = document.getElementById("connection");
    if (!box) return;
    box.textContent = text;
    box.className = "notice " + kind;
    box.hidden = !text;
  }
  document.addEventListener("htmx:confirm", function (e) {
    if (document.hidden && e.detail.elt && (e.detail.elt.getAttribute("hx-trigger") || "").indexOf("every") !== -1) {
      e.preventDefault();  // hidden: skip this poll; the interval keeps ticking
      document.documentElement.dataset.polling = "paused";
    }
  });
  document.addEventListener("visibilitychange", function () {
    document.documentElement.dataset.polling = document.hidden ? "paused" : "live";
  });
  document.addEventListener("htmx:sendError", function () {
    lost = true;
    say(word("lost", "The server cannot be reached. Retrying…"), "error");
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    var xhr = e.detail.xhr;
    if (lost && xhr && xhr.status > 0) {
      lost = false;
      say(word("back", "Connection to the server is back."), "info");
      setTimeout(function () { if (!lost) say("", "info"); }, 5000);
    }
  });
  document.documentElement.dataset.polling = document.hidden ? "paused" : "live";
})();
