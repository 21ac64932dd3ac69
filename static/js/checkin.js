// Check-in without a page reload: post the toggle in the background, update the row and the
// counts, keep the keyboard focus on the button and say what changed in the status line.
// Without JavaScript the same forms work with a reload (the server puts the focus back).
(function () {
  "use strict";
  var script = document.currentScript;
  var labels = {
    present: script.dataset.present,
    mark: script.dataset.mark,
    marked: script.dataset.marked,
    unmarked: script.dataset.unmarked,
  };
  var status = document.getElementById("checkin-status");

  function updateCounts(delta) {
    var present = document.querySelector("[data-count=present]");
    var absent = document.querySelector("[data-count=absent]");
    present.textContent = String(Number(present.textContent) + delta);
    absent.textContent = String(Number(absent.textContent) - delta);
  }

  document.querySelectorAll("form.checkin-toggle").forEach(function (form) {
    var busy = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      // Not button.disabled: disabling the focused button would drop the focus to the page.
      if (busy) { return; }
      busy = true;
      var button = form.querySelector("button");
      var field = form.querySelector("input[name=present]");
      var name = button.querySelector(".visually-hidden").outerHTML;
      var row = form.closest(".checkin-row");
      button.setAttribute("aria-busy", "true");
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
          row.classList.toggle("checkin-row--present", data.present);
          field.value = data.present ? "0" : "1";
          button.setAttribute("aria-pressed", data.present ? "true" : "false");
          button.className = data.present ? "button button--present" : "button button--secondary";
          button.innerHTML = (data.present ? labels.present : labels.mark) + name;
          updateCounts(data.present ? 1 : -1);
          status.textContent = (data.present ? labels.marked : labels.unmarked)
            .replace("{name}", row.dataset.name);
          button.focus();
        })
        .catch(function () { form.submit(); })
        .finally(function () {
          busy = false;
          button.removeAttribute("aria-busy");
        });
    });
  });
})();
