// Progressive enhancement only: every page works without it.
// A page that marks itself with data-refresh="N" (a crawl is running) reloads every N seconds.
(function () {
  "use strict";
  var seconds = parseInt(document.body.getAttribute("data-refresh") || "", 10);
  if (seconds > 0) {
    window.setTimeout(function () { window.location.reload(); }, seconds * 1000);
  }
})();
