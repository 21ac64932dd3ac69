// The programme editor without a framework: names typed in the person and session staff
// fields get suggestions (a <datalist>) from the editor's search; the forms work without it.
(function () {
  "use strict";
  const editor = document.querySelector(".programme-editor");
  const list = document.getElementById("people-suggestions");
  if (!editor || !list || !window.fetch) return;
  const url = editor.dataset.peopleUrl;
  const found = new Map();
  let timer = null;

  function organisationField(input) {
    return document.getElementById(input.id.replace(/-name$/, "-organisation"));
  }

  function suggest(input) {
    const text = input.value.trim();
    if (text.length < 2) return;
    const params = new URLSearchParams({ q: text, wie: input.dataset.people });
    fetch(url + "?" + params, { credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : { results: [] }))
      .then((data) => {
        list.replaceChildren();
        found.clear();
        for (const result of data.results) {
          const option = document.createElement("option");
          option.value = result.value;
          option.label = result.label;
          list.append(option);
          found.set(result.value, result.label);
        }
      })
      .catch(() => {});
  }

  for (const input of editor.querySelectorAll("input[data-people]")) {
    input.setAttribute("list", list.id);
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => suggest(input), 200);
      const organisation = organisationField(input);
      if (organisation && found.has(input.value) && !organisation.value) {
        organisation.value = found.get(input.value);
      }
    });
  }
})();
