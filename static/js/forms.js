// Move focus to the error summary after a failed submit, as GOV.UK does,
// so screen-reader and keyboard users start at the list of problems.
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }
})();
