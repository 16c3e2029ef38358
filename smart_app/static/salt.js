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
    // Must agree with SaltModel.score and SaltModel.iga (smart_app/knowledge_view.py), which
    // round halves up as Math.round does: otherwise the score saved differs from the one shown.
    total = Math.round(total * 10) / 10;
    saltOut.textContent = String(total);
    // AA-IGA bands are whole numbers; any loss at all (SALT > 0) is at least grade 1.
    var rounded = total > 0 ? Math.max(Math.round(total), 1) : 0;
    var band = model.bands.filter(function (b) { return rounded >= b.low && rounded <= b.high; })[0];
    igaOut.textContent = band ? band.grade + " (" + band.label + ")" : "\u2014";
  }

  form.addEventListener("input", update);
  update();
}());
