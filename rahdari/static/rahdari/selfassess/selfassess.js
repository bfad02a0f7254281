// The self-assessment without a round trip for − and +; the buttons also work without script.
(function () {
  "use strict";
  var DIGITS = { "۰": 0, "۱": 1, "۲": 2, "۳": 3, "۴": 4, "۵": 5, "۶": 6, "۷": 7, "۸": 8, "۹": 9,
    "٠": 0, "١": 1, "٢": 2, "٣": 3, "٤": 4, "٥": 5, "٦": 6, "٧": 7, "٨": 8, "٩": 9, "٫": "." };
  function parse(text) {
    var plain = text.replace(/[۰-۹٠-٩٫]/g, function (c) { return String(DIGITS[c]); }).replace(/[,،\s]/g, "");
    return plain === "" ? null : Number(plain);
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button.sa-step") : null;
    if (!button) { return; }
    var input = button.parentElement.querySelector("input[data-step]");
    if (!input) { return; }
    var low = Number(input.dataset.low), high = Number(input.dataset.high), step = Number(input.dataset.step);
    var direction = Number(button.dataset.direction), current = parse(input.value);
    if (current !== null && isNaN(current)) { return; }  // let the server explain
    event.preventDefault();
    var value = current === null ? (direction > 0 ? Math.max(low, step) : low) : current + direction * step;
    value = Math.min(Math.max(value, low), high);
    input.value = String(Math.round(value * 100) / 100);
  });
  // The header's language links would start over: switch with the answers kept instead.
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest(".language-switcher a[hreflang]") : null;
    var keep = link && document.querySelector("form.sa-languages button[lang='" + link.getAttribute("hreflang") + "']");
    if (!keep) { return; }
    event.preventDefault();
    keep.click();
  });
  // After htmx swaps in the next question, start reading (and tabbing) from its heading.
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id !== "selfassess") { return; }
    var heading = document.querySelector("#selfassess h1");
    window.scrollTo(0, 0);
    if (heading) { heading.focus(); }
  });
}());
