// The new-request form's file drop zone and upload progress (templates/requests/new.html).
// The real <input type=file> stays in the page (focusable, labelled); dropping a file
// onto the zone sets it. With a file chosen, Submit sends the same multipart form with
// XMLHttpRequest so a <progress> can show percent and MB, then follows the server's
// redirect to the new request's page; a refusal shows the server's answer (the form
// again, with the error next to its field). Without JS the plain form posts as before.
(function () {
  var MB = 1024 * 1024;

  function size(bytes) {
    return bytes >= MB ? (bytes / MB).toFixed(1) + " MB" : bytes >= 1024
      ? (bytes / 1024).toFixed(1) + " KB" : bytes + " bytes";
  }

  function describe(input) {
    var out = document.getElementById("file-chosen");
    if (!out) return;
    var file = input.files && input.files[0];
    out.textContent = file ? word("chosen", "Chosen: {name} ({size})", {name: file.name, size: size(file.size)}) : word("no_file", "No file chosen.");
  }

  document.addEventListener("change", function (e) {
    if (e.target && e.target.id === "file") describe(e.target);
  });

  function zoneOf(e) {
    return e.target && e.target.closest ? e.target.closest("[data-dropzone]") : null;
  }
  ["dragenter", "dragover"].forEach(function (type) {
    document.addEventListener(type, function (e) {
      var zone = zoneOf(e);
      if (!zone) return;
      e.preventDefault();
      zone.classList.add("dragging");
    });
  });
  document.addEventListener("dragleave", function (e) {
    var zone = zoneOf(e);
    if (zone && !zone.contains(e.relatedTarget)) zone.classList.remove("dragging");
  });
  document.addEventListener("drop", function (e) {
    var zone = zoneOf(e);
    if (!zone) return;
    e.preventDefault();
    zone.classList.remove("dragging");
    var input = zone.querySelector("input[type=file]");
    if (!input || !e.dataTransfer || !e.dataTransfer.files.length) return;
    input.files = e.dataTransfer.files;
    describe(input);
    input.focus();
  });

  function swapForm(html) {
    // The server's answer is the form page again (errors inline): show its form part.
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.getElementById("form-page");
    var here = document.getElementById("form-page");
    if (!fresh || !here) return false;
    here.replaceWith(document.adoptNode(fresh));
    if (window.htmx) window.htmx.process(document.getElementById("form-page"));
    var alert = document.getElementById("form-alert");
    if (alert) alert.focus();
    return true;
  }

  function message(xhr) {
    var text = xhr.responseText || "";
    try { var body = JSON.parse(text); if (body && body.error) return body.error; } catch (err) { /* not JSON */ }
    var doc = new DOMParser().parseFromString(text, "text/html");
    var main = doc.querySelector("main") || doc.body;
    return (main && main.textContent.trim().replace(/\s+/g, " ").slice(0, 300)) || ("Error " + xhr.status);
  }

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form || form.id !== "new-request") return;
    var input = form.querySelector("input[type=file]");
    var file = input && input.files && input.files[0];
    if (!file || !window.XMLHttpRequest || !window.FormData) return;  // the plain POST
    e.preventDefault();
    var status = document.getElementById("upload-status");
    var bar = document.getElementById("upload-progress");
    var text = document.getElementById("upload-text");
    var button = form.querySelector("button[type=submit].primary");
    status.hidden = false;
    button.disabled = true;
    function shown(loaded, total) {
      var pct = total ? Math.floor(100 * loaded / total) : 0;
      bar.setAttribute("value", String(pct));
      bar.textContent = pct + " %";
      text.textContent = word("of_mb", "{pct} % · {loaded} of {total} MB", {pct: pct, loaded: (loaded / MB).toFixed(1), total: (total / MB).toFixed(1)});
    }
    shown(0, file.size);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.upload.addEventListener("progress", function (p) {
      if (p.lengthComputable) shown(p.loaded, p.total);
    });
    xhr.upload.addEventListener("load", function () {
      text.textContent = word("checking", "100 % · uploaded; the server is checking the file…");
    });
    xhr.addEventListener("load", function () {
      if (xhr.status === 201) {
        var made = null;
        try { made = JSON.parse(xhr.responseText); } catch (err) { made = null; }
        if (made && made.url) {
          text.textContent = word("submitted_as", "Submitted as request #{id}; opening its page…", {id: made.id});
          window.location.assign(made.url);
          return;
        }
      }
      button.disabled = false;
      if (xhr.status >= 400 && swapForm(xhr.responseText)) return;
      text.textContent = word("not_submitted", "Not submitted: {why}", {why: message(xhr)});
      text.classList.add("field-error");
    });
    xhr.addEventListener("error", function () {
      button.disabled = false;
      text.textContent = word("unreachable", "Not submitted: the server could not be reached.");
      text.classList.add("field-error");
    });
    xhr.send(new FormData(form));
  });
})();
