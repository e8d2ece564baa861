// A request's story in the browser: copy buttons (traceback, result) and the bulk
// confirmation that says how many requests it will act on. Text only, never HTML.
(function () {
  function copy(text, button) {
    function done() { button.textContent = word("copied", "Copied"); setTimeout(function () { button.textContent = word("copy", "Copy"); }, 1500); }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(text); done(); });
    } else { fallback(text); done(); }
  }
  function fallback(text) {
    var area = document.createElement("textarea");
    area.value = text; area.setAttribute("readonly", ""); area.style.position = "fixed"; area.style.opacity = "0";
    document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing to do */ }
    area.remove();
  }
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("button[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (source) copy(source.textContent, button);
  });
  function picked() { return document.querySelectorAll("input[name=ids][form=bulk-form]:checked"); }
  document.addEventListener("change", function (e) {
    if (e.target && e.target.id === "bulk-all-page") {
      document.querySelectorAll("input[name=ids][form=bulk-form]").forEach(function (box) { box.checked = e.target.checked; });
    }
    var count = document.getElementById("bulk-count");
    if (count) count.textContent = String(picked().length);
  });
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form || form.id !== "bulk-form") return;
    var action = e.submitter ? e.submitter.value : "";
    var all = form.querySelector("input[name=all_matching]:checked");
    var n = all ? Number(all.getAttribute("data-matching")) : picked().length;
    if (!n) { e.preventDefault(); alert(word("pick_first", "Select at least one request first.")); return; }
    var key = (action === "kill" ? "kill_" : "retry_") + (n === 1 ? "1" : "n");
    var english = (action === "kill" ? "Kill" : "Retry") + " {n} request" + (n === 1 ? "" : "s") + "?";
    if (!confirm(word(key, english, {n: n}))) e.preventDefault();
  });
})();
