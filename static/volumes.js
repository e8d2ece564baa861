// The slice viewer (templates/requests/_volume.html): sliders (mouse or arrow keys) and the
// window controls change the images' src; nothing is built from HTML strings.
(function () {
  function init(root) {
    if (root.dataset.ready) return;
    root.dataset.ready = "1";
    var base = root.dataset.base;
    var preset = root.querySelector("select[name=window]");
    var level = root.querySelector("input[name=level]");
    var width = root.querySelector("input[name=width]");
    var query = "window=" + encodeURIComponent(root.dataset.window);

    function source(img) {
      var index = img.dataset.index === "mip" ? "mip" : img.dataset.index;
      return base + img.dataset.view + "/" + index + ".png?" + query;
    }
    function redraw() {
      root.querySelectorAll("img[data-view]").forEach(function (img) { img.src = source(img); });
    }
    root.querySelectorAll("input.slice-slider").forEach(function (slider) {
      var view = slider.dataset.view;
      var img = root.querySelector("img.slice[data-view=" + view + "]");
      var out = root.querySelector("#vo-" + view);
      var total = Number(slider.max) + 1;
      slider.addEventListener("input", function () {
        var shown = Number(slider.value) + 1;
        img.dataset.index = slider.value;
        img.alt = view.charAt(0).toUpperCase() + view.slice(1) + " slice " + shown + " of " + total;
        slider.setAttribute("aria-valuetext", "slice " + shown + " of " + total);
        if (out) out.textContent = shown + " / " + total;
        img.src = source(img);
      });
    });
    preset.addEventListener("change", function () {
      var option = preset.options[preset.selectedIndex];
      if (preset.value === "custom") { level.focus(); return; }
      level.value = option.dataset.level;
      width.value = option.dataset.width;
      query = "window=" + encodeURIComponent(preset.value);
      redraw();
    });
    root.querySelector("button.vw-apply").addEventListener("click", function () {
      var l = Number(level.value), w = Number(width.value);
      if (!isFinite(l) || !isFinite(w) || w <= 0) { width.setCustomValidity("a positive width"); width.reportValidity(); return; }
      width.setCustomValidity("");
      preset.value = "custom";
      query = "level=" + encodeURIComponent(l) + "&width=" + encodeURIComponent(w);
      redraw();
    });
  }
  function scan() { document.querySelectorAll(".volume-viewer").forEach(init); }
  document.addEventListener("DOMContentLoaded", scan);
  document.addEventListener("htmx:load", scan);
})();
