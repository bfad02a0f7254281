// Buttons marked data-print open the browser's print dialogue (inline scripts are
// not allowed by the content security policy).
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
})();
