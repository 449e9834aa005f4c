/* The page scripts, as a file: the Content-Security-Policy allows no inline script. */
(function () {
  "use strict";
  /* A double-click must make one request: the form's nonce makes the server do it once,
     and this stops the browser from even sending it twice. */
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (!f.hasAttribute || !f.hasAttribute("data-once")) return;
    if (f.dataset.sent) { e.preventDefault(); return; }
    f.dataset.sent = "1";
  });
  /* <select data-autosubmit>: choosing an option submits its form. */
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) el.form.submit();
  });

  /* Busy: while a request is on its way, the bar at the top runs (#busy), what asked for it
     says aria-busy, and its buttons are disabled so they cannot be pressed twice. Used for
     every htmx request and every ordinary form submission. */
  var inflight = 0;
  function busyRoot(el) {
    return (el.closest && el.closest("form")) || el;
  }
  function buttonsOf(root) {
    var found = [];
    if (root.matches && root.matches("button, input[type=submit]")) found.push(root);
    if (root.querySelectorAll) {
      root.querySelectorAll("button, input[type=submit]").forEach(function (b) { found.push(b); });
    }
    return found;
  }
  function startBusy(root) {
    inflight += 1;
    document.documentElement.classList.add("is-busy");
    root.setAttribute("aria-busy", "true");
    buttonsOf(root).forEach(function (b) {
      if (!b.disabled) { b.disabled = true; b.setAttribute("data-busy-disabled", ""); }
    });
  }
  function endBusy(root) {
    inflight = Math.max(0, inflight - 1);
    if (!inflight) document.documentElement.classList.remove("is-busy");
    root.removeAttribute("aria-busy");
    buttonsOf(root).forEach(function (b) {
      if (b.hasAttribute("data-busy-disabled")) { b.disabled = false; b.removeAttribute("data-busy-disabled"); }
    });
  }
  document.addEventListener("htmx:beforeRequest", function (e) {
    var root = busyRoot(e.detail.elt);
    e.detail.busyRoot = root;
    startBusy(root);
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    endBusy(e.detail.busyRoot || busyRoot(e.detail.elt));
  });
  /* An ordinary form: the page is about to be replaced. The buttons are disabled a tick
     later, so the one pressed still sends its name and value. */
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (e.defaultPrevented || !f.matches || f.matches("[hx-get], [hx-post]")) return;
    window.setTimeout(function () { startBusy(f); }, 0);
  });
  /* Back to a page kept in the browser's cache: nothing is on its way any more. */
  window.addEventListener("pageshow", function () {
    inflight = 0;
    document.documentElement.classList.remove("is-busy");
    document.querySelectorAll("[aria-busy]").forEach(function (el) { el.removeAttribute("aria-busy"); });
    document.querySelectorAll("[data-busy-disabled]").forEach(function (b) {
      b.disabled = false; b.removeAttribute("data-busy-disabled");
    });
    document.querySelectorAll("form[data-sent]").forEach(function (f) { delete f.dataset.sent; });
  });

  /* Tables as cards on phones: each cell is labelled with its column's heading. */
  function labelCells(scope) {
    scope.querySelectorAll("table.cards").forEach(function (table) {
      var heads = table.querySelectorAll("thead th");
      if (!heads.length) return;
      table.querySelectorAll("tbody tr").forEach(function (row) {
        var col = 0;
        Array.prototype.forEach.call(row.cells, function (cell) {
          var head = heads[col];
          col += cell.colSpan || 1;
          if (cell.colSpan > 1 || cell.hasAttribute("data-label") || !head) return;
          var text = head.textContent.trim();
          if (text && text !== "#") cell.setAttribute("data-label", text);
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { labelCells(document); });
  document.addEventListener("htmx:afterSettle", function () { labelCells(document); });
})();
