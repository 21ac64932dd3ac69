// The registration bar on a phone (events/includes/register_bar.html) shows only while the
// registration box's own button is out of view: beside it, the bar would repeat a button
// in sight and cover the lines under it. Without JavaScript the bar always shows.
(function () {
  "use strict";
  var bar = document.querySelector(".register-bar");
  var button = document.querySelector(".panel--registration .button--large");
  if (!bar || !button || !("IntersectionObserver" in window)) {
    return;
  }
  new IntersectionObserver(function (entries) {
    bar.classList.toggle("register-bar--waiting", entries[entries.length - 1].isIntersecting);
  }).observe(button);
})();
