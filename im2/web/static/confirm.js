/* Confirmation before an irreversible action (console). A form with data-confirm-title (and
 * data-confirm-body, data-confirm-ok) opens the page's <dialog id="confirm-dialog"> instead of
 * submitting; only its confirm button submits the form. The server still refuses any change
 * that is not allowed. No inline handlers, no eval (CSP). */
(function () {
  "use strict";
  var dialog = document.getElementById("confirm-dialog");
  if (!dialog || typeof dialog.showModal !== "function") return;
  var pending = null;
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-confirm-title") || form === pending) return;
    event.preventDefault();
    pending = form;
    dialog.querySelector("[data-dialog-title]").textContent = form.getAttribute("data-confirm-title");
    dialog.querySelector("[data-dialog-body]").textContent = form.getAttribute("data-confirm-body") || "";
    dialog.querySelector("[data-dialog-ok]").textContent = form.getAttribute("data-confirm-ok") || "OK";
    dialog.showModal();
  });
  dialog.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dialog-ok], [data-dialog-cancel]");
    if (!button) return;
    var form = pending;
    dialog.close();
    if (button.hasAttribute("data-dialog-ok") && form) form.submit();
    else pending = null;
  });
})();
