// The event page's filter by kind and theme, at once: without JavaScript it is a GET form
// (events/programme_filter.py). On a page that shows every session, a choice hides the
// others in the overview and the programme and keeps the choice in the address; on a page
// already filtered by the server, a choice asks the server for the other sessions.
(function () {
  "use strict";
  var form = document.querySelector("form.programme-filter");
  if (!form) {
    return;
  }
  var programme = form.closest(".programme");
  var status = programme.querySelector(".programme-filter__result");
  var selects = form.querySelectorAll("select");

  function chosen() {
    var values = {};
    selects.forEach(function (select) { values[select.name] = select.value; });
    return values;
  }

  function apply() {
    var values = chosen();
    var shown = {};
    programme.querySelectorAll("[data-kind]").forEach(function (item) {
      var match = (!values.kind || item.dataset.kind === values.kind) &&
        (!values.theme || item.dataset.theme === values.theme);
      item.hidden = !match;
      if (match && item.classList.contains("overview__item")) {
        shown[item.querySelector("a").getAttribute("href") + "|" + item.closest("section").id] = true;
      }
    });
    var count = Object.keys(shown).length;
    var active = Object.keys(values).some(function (name) { return values[name]; });
    if (status) {
      status.textContent = active
        ? (count === 1 ? status.dataset.one : status.dataset.other.replace(/\d+/, count))
        : "";
    }
    var query = new URLSearchParams();
    Object.keys(values).forEach(function (name) {
      if (values[name]) { query.set(name, values[name]); }
    });
    var search = query.toString();
    history.replaceState(null, "", location.pathname + (search ? "?" + search : "") + location.hash);
  }

  selects.forEach(function (select) {
    select.addEventListener("change", function () {
      if (form.dataset.instant === "true") {
        apply();
      } else {
        form.submit();
      }
    });
  });
})();
