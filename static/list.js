// The requests list's live updates read: each poll's partial is merged into the page by
// Idiomorph (htmx's `morph` swap, static/vendor), which matches rows by their id, so a
// row that did not change keeps its DOM node, the table is never replaced (the scroll
// position and focus stay), and only what differs is touched. Two rules on top:
// - a checkbox the operator ticked (or unticked) keeps its state: the server renders them
//   unticked, and a poll must not undo a selection;
// - a row whose status changed is highlighted for a few seconds (`.changed`, see app.css;
//   without motion under prefers-reduced-motion).
(function () {
  if (typeof Idiomorph === "undefined") return;
  var HIGHLIGHT_MS = 4000;
  var callbacks = Idiomorph.defaults.callbacks;
  function inList(node) {
    return node && node.nodeType === 1 && node.closest && node.closest("#requests");
  }
  callbacks.beforeAttributeUpdated = function (name, node) {
    if (name === "checked" && node.type === "checkbox" && inList(node)) return false;
    // the server renders rows without classes: a highlight lasts its time, whatever polls
    if (name === "class" && node.tagName === "TR" && node.classList.contains("changed")
        && inList(node)) return false;
    return true;
  };
  callbacks.beforeNodeMorphed = function (oldNode, newNode) {
    if (oldNode.nodeType === 1 && oldNode.tagName === "TR" && oldNode.dataset.id
        && newNode.nodeType === 1 && inList(oldNode)
        && oldNode.getAttribute("data-status") !== newNode.getAttribute("data-status")) {
      oldNode._statusChanged = true;  // a property: the morph resets attributes
    }
    return true;
  };
  callbacks.afterNodeMorphed = function (node) {
    if (node.nodeType !== 1 || node.tagName !== "TR" || !node._statusChanged) return;
    node._statusChanged = false;
    node.classList.add("changed");
    clearTimeout(node._changedTimer);
    node._changedTimer = setTimeout(function () { node.classList.remove("changed"); }, HIGHLIGHT_MS);
  };
})();
