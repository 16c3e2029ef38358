// Live preview of SALT and AA-IGA. The weights and bands come from the server (the knowledge
// file) in the form's data-model attribute; the server recomputes on save.
(function () {
  "use strict";
  var form = document.getElementById("salt-form");
  if (!form) { return; }
  var model = JSON.parse(form.getAttribute("data-model"));
  var saltOut = document.getElementById("salt-preview");
  var igaOut = document.getElementById("iga-preview");

  function update() {
    var total = 0;
    var complete = true;
    Object.keys(model.weights).forEach(function (region) {
      var input = document.getElementById("loss_" + region);
      var value = parseFloat(input.value);
      if (isNaN(value) || value < 0 || value > 100) { complete = false; return; }
      total += value * model.weights[region];
    });
    if (!complete) { saltOut.textContent = "\u2014"; igaOut.textContent = "\u2014"; return; }
    total = Math.round(total * 10) / 10;
    saltOut.textContent = String(total);
    var rounded = Math.round(total);
    var band = model.bands.filter(function (b) { return rounded >= b.low && rounded <= b.high; })[0];
    igaOut.textContent = band ? band.grade + " (" + band.label + ")" : "\u2014";
  }

  form.addEventListener("input", update);
  update();
}());
