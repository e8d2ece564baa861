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
