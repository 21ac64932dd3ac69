// Check-in without a page reload: post the toggle in the background and update
// the row and the counts. Without JavaScript the same forms work with a reload.
(function () {
  "use strict";
  var script = document.currentScript;
  var labels = { present: script.dataset.present, mark: script.dataset.mark };

  function updateCounts(delta) {
    var present = document.querySelector("[data-count=present]");
    var absent = document.querySelector("[data-count=absent]");
    present.textContent = String(Number(present.textContent) + delta);
    absent.textContent = String(Number(absent.textContent) - delta);
  }

  document.querySelectorAll("form.checkin-toggle").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button");
      var field = form.querySelector("input[name=present]");
      var name = button.querySelector(".visually-hidden").outerHTML;
      button.disabled = true;
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      })
        .then(function (response) {
          if (!response.ok) { throw new Error(response.status); }
          return response.json();
        })
        .then(function (data) {
          var row = form.closest(".checkin-row");
          row.classList.toggle("checkin-row--present", data.present);
          field.value = data.present ? "0" : "1";
          button.setAttribute("aria-pressed", data.present ? "true" : "false");
          button.className = data.present ? "button button--present" : "button button--secondary";
          button.innerHTML = (data.present ? labels.present : labels.mark) + name;
          updateCounts(data.present ? 1 : -1);
        })
        .catch(function () { form.submit(); })
        .finally(function () { button.disabled = false; });
    });
  });
})();
