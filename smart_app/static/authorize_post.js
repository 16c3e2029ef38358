// Submits the SMART authorization form (authorize-post) as soon as the page loads.
// The form also has a visible button, for browsers without JavaScript.
(function () {
  "use strict";
  var form = document.getElementById("authorize-post");
  if (form && form.getAttribute("data-auto-submit") === "true") {
    form.submit();
  }
})();
