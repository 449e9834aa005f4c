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
})();
