// The slice viewer (templates/requests/_volume.html): sliders (mouse or arrow keys), the window,
// layer, colour map and blend controls change the images' src; a click on a view reads the
// value there, moves the other views to that point (a linked crosshair) and, from the second
// click on, gives the distance to the point before. Nothing is built from HTML strings.
(function () {
  var AXIS = { axial: 2, coronal: 1, sagittal: 0 };

  function init(root) {
    if (root.dataset.ready) return;
    root.dataset.ready = "1";
    var base = root.dataset.base;
    var shape = JSON.parse(root.dataset.shape);
    var spacing = JSON.parse(root.dataset.spacing || "null");
    var views = JSON.parse(root.dataset.views);
    var layers = JSON.parse(root.dataset.layers);
    var texts = JSON.parse(root.dataset.texts);
    function say(name, values) {     // a translated sentence with its {placeholders} filled
      return texts[name].replace(/\{(\w+)\}/g, function (all, key) { return key in values ? values[key] : all; });
    }
    var $ = function (s) { return root.querySelector(s); };
    var preset = $("select[name=window]"), level = $("input[name=level]"), width = $("input[name=width]");
    var layerSelect = $("select[name=layer]"), opacity = $("input[name=opacity]");
    var petWindow = $("select[name=pet_window]"), cmap = $("select[name=cmap]");
    var state = { layer: root.dataset.layer, window: "window=" + encodeURIComponent(root.dataset.window) };
    var point = [0, 1, 2].map(function (a) { return Math.floor(shape[a] / 2); });
    var previous = null;

    function windowed() { return state.layer === "fusion" ? "ct" : state.layer; }
    function query() {
      var q = state.window;
      if (layerSelect) q += "&layer=" + encodeURIComponent(state.layer);
      q += "&cmap=" + encodeURIComponent(cmap.value);
      if (state.layer === "fusion") {
        q += "&pet_window=" + encodeURIComponent(petWindow.value) + "&opacity=" + (Number(opacity.value) / 100);
      }
      return q;
    }
    function source(img) { return base + img.dataset.view + "/" + img.dataset.index + ".png?" + query(); }
    function redraw() {
      root.querySelectorAll("img[data-view]").forEach(function (img) { img.src = source(img); });
      colourBar();
    }
    function colourBar() {
      var details = layers[state.layer === "fusion" ? "pet" : windowed()];
      var w = state.layer === "fusion" ? details.windows[petWindow.value] : currentWindow();
      $("#cb-rect").setAttribute("fill", "url(#cb-" + cmap.value + ")");
      $("#cb-name").textContent = cmap.options[cmap.selectedIndex].text;
      if (!w) return;
      var lo = w.level - w.width / 2, hi = w.level + w.width / 2, factor = details.suv && details.suv.factor;
      var unit = factor ? "SUV" : (details.units || "");
      if (factor) { lo *= factor; hi *= factor; }
      $("#cb-low").textContent = Number(lo.toPrecision(4)) + " " + unit;
      $("#cb-high").textContent = Number(hi.toPrecision(4)) + " " + unit;
    }
    function currentWindow() {
      if (preset.value === "custom") return { level: Number(level.value), width: Number(width.value) };
      return layers[windowed()].windows[preset.value];
    }
    function fillWindows(name) {
      var details = layers[name];
      while (preset.options.length > 1) preset.remove(0);
      Object.keys(details.windows).forEach(function (key, n) {
        var w = details.windows[key], option = document.createElement("option");
        option.value = key; option.dataset.level = w.level; option.dataset.width = w.width;
        option.textContent = w.label + " (L " + Number(w.level.toFixed(1)) + ", W " + Number(w.width.toFixed(1)) + ")";
        preset.add(option, n);
      });
      preset.value = details.default_window;
      pickPreset();
    }
    function pickPreset() {
      var option = preset.options[preset.selectedIndex];
      level.value = option.dataset.level; width.value = option.dataset.width;
      state.window = "window=" + encodeURIComponent(preset.value);
    }

    // The crosshair: where `point` lies on each view, as fractions of the image.
    function place(view) {
      var v = views[view], c = point[v.columns_axis], r = point[v.rows_axis];
      var nc = shape[v.columns_axis], nr = shape[v.rows_axis];
      if (v.columns_reversed) c = nc - 1 - c;
      if (v.rows_reversed) r = nr - 1 - r;
      var frame = root.querySelector(".view-frame[data-view=" + view + "]");
      var across = frame.querySelector(".cross-v"), down = frame.querySelector(".cross-h");
      across.style.left = ((c + 0.5) / nc * 100) + "%";
      down.style.top = ((r + 0.5) / nr * 100) + "%";
      across.hidden = down.hidden = false;
    }
    function moveTo(view, index) {
      var slider = $("#vs-" + view);
      slider.value = index;
      slider.dispatchEvent(new Event("input"));
    }
    function read() {
      var url = root.dataset.valueUrl + "?i=" + point[0] + "&j=" + point[1] + "&k=" + point[2];
      var here = point.slice();
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (body) {
          if (here.join() !== point.join()) return;   // a later point was chosen meanwhile
          if (body.layers) showReading(body); else $("#volume-reading").textContent = body.error || "";
        })
        .catch(function () { $("#volume-reading").textContent = ""; });
    }
    function text(reading) {
      if (reading.value === null || reading.value === undefined) return texts.none;
      var s = Number(reading.value.toPrecision(6)) + (reading.units ? " " + reading.units : "");
      if (reading.suv !== null && reading.suv !== undefined) s += " (SUV " + reading.suv.toFixed(2) + ")";
      return s;
    }
    function showReading(body) {
      var parts = Object.keys(body.layers).map(function (name) {
        return (Object.keys(body.layers).length > 1 ? layers[name].label + " " : "") + text(body.layers[name]);
      });
      var where = say("voxel", { i: body.i, j: body.j, k: body.k });
      if (body.position_mm) {
        var mm = body.position_mm.map(function (n) { return n.toFixed(1); });
        where = say("position", { voxel: where, x: mm[0], y: mm[1], z: mm[2] });
      }
      var out = $("#volume-reading");
      out.textContent = say("value", { where: where, values: parts.join(" · ") });
      out.dataset.value = body.value;
    }
    function distance(a, b) {
      var s = spacing || [1, 1, 1], sum = 0;
      for (var n = 0; n < 3; n++) sum += Math.pow((a[n] - b[n]) * s[n], 2);
      return Math.sqrt(sum);
    }
    root.querySelectorAll(".view-frame img.slice").forEach(function (img) {
      img.addEventListener("click", function (event) {
        var v = views[img.dataset.view], box = img.getBoundingClientRect();
        var nc = shape[v.columns_axis], nr = shape[v.rows_axis];
        var c = Math.min(nc - 1, Math.max(0, Math.floor((event.clientX - box.left) / box.width * nc)));
        var r = Math.min(nr - 1, Math.max(0, Math.floor((event.clientY - box.top) / box.height * nr)));
        choose(img, v.columns_reversed ? nc - 1 - c : c, v.rows_reversed ? nr - 1 - r : r, true);
      });
      // The keyboard: arrows move the crosshair a voxel on this view; Enter marks the point
      // (a click's distance), as a click does.
      img.addEventListener("keydown", function (event) {
        var v = views[img.dataset.view];
        var step = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[event.key];
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          choose(img, point[v.columns_axis], point[v.rows_axis], true);
        } else if (step) {
          event.preventDefault();
          var c = point[v.columns_axis] + (v.columns_reversed ? -step[0] : step[0]);
          var r = point[v.rows_axis] + (v.rows_reversed ? -step[1] : step[1]);
          c = Math.min(shape[v.columns_axis] - 1, Math.max(0, c));
          r = Math.min(shape[v.rows_axis] - 1, Math.max(0, r));
          choose(img, c, r, false);
        }
      });
    });
    // The point at volume indices (c, r) of a view's columns and rows axes: the other views
    // move there, the value is read, and a marked point gives the distance to the one before.
    function choose(img, c, r, mark) {
      var view = img.dataset.view, v = views[view];
      point[v.columns_axis] = c;
      point[v.rows_axis] = r;
      point[AXIS[view]] = Number(img.dataset.index);
      Object.keys(AXIS).forEach(function (other) { if (other !== view) moveTo(other, point[AXIS[other]]); });
      Object.keys(AXIS).forEach(place);
      read();
      if (!mark) return;
      var out = $("#volume-distance");
      if (previous) {
        var mm = distance(previous, point);
        out.textContent = say("distance", { a: previous.join(", "), b: point.join(", "),
          d: mm.toFixed(1) + (spacing ? " mm" : " voxels") });
        out.dataset.mm = mm;
      }
      previous = point.slice();
    }
    root.querySelectorAll("input.slice-slider").forEach(function (slider) {
      var view = slider.dataset.view;
      var img = $("img.slice[data-view=" + view + "]");
      var out = $("#vo-" + view);
      var total = Number(slider.max) + 1;
      slider.addEventListener("input", function () {
        var shown = Number(slider.value) + 1;
        img.dataset.index = slider.value;
        img.alt = say("slice", { view: texts.views[view], n: shown, total: total });
        slider.setAttribute("aria-valuetext", say("slice_short", { n: shown, total: total }));
        if (out) out.textContent = shown + " / " + total;
        img.src = source(img);
        point[AXIS[view]] = Number(slider.value);
        Object.keys(AXIS).forEach(function (other) {
          if (other !== view && !root.querySelector(".view-frame[data-view=" + other + "] .cross-v").hidden) place(other);
        });
      });
    });
    preset.addEventListener("change", function () {
      if (preset.value === "custom") { level.focus(); return; }
      pickPreset();
      redraw();
    });
    $("button.vw-apply").addEventListener("click", function () {
      var l = Number(level.value), w = Number(width.value);
      if (!isFinite(l) || !isFinite(w) || w <= 0) { width.setCustomValidity("a positive width"); width.reportValidity(); return; }
      width.setCustomValidity("");
      preset.value = "custom";
      state.window = "level=" + encodeURIComponent(l) + "&width=" + encodeURIComponent(w);
      redraw();
    });
    cmap.addEventListener("change", redraw);
    if (layerSelect) {
      var fusionOnly = root.querySelectorAll(".fusion-only");
      var showFusion = function () {
        fusionOnly.forEach(function (el) { el.hidden = state.layer !== "fusion"; });
        opacity.disabled = state.layer !== "fusion";
      };
      layerSelect.addEventListener("change", function () {
        var was = windowed();
        state.layer = layerSelect.value;
        if (windowed() !== was) fillWindows(windowed());
        cmap.value = state.layer === "fusion" ? layers.pet.default_cmap : layers[windowed()].default_cmap;
        showFusion();
        redraw();
      });
      petWindow.addEventListener("change", redraw);
      opacity.addEventListener("input", function () {
        var text = opacity.value + " %";
        opacity.setAttribute("aria-valuetext", text);
        $("#vw-opacity-out").textContent = text;
      });
      opacity.addEventListener("change", redraw);
      showFusion();
    }
    colourBar();
  }
  function scan() { document.querySelectorAll(".volume-viewer").forEach(init); }
  document.addEventListener("DOMContentLoaded", scan);
  document.addEventListener("htmx:load", scan);
})();
