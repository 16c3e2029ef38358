// Live preview of SALT and AA-IGA. The weights and where each AA-IGA grade starts come from the
// server (the knowledge file, read by the clinical core) in the form's data-model attribute; the
// server recomputes on save.
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
    // Must agree with SaltModel.score (smart_app/knowledge_view.py), which rounds halves up as
    // Math.round does: otherwise the score saved differs from the one shown.
    total = Math.round(total * 10) / 10;
    saltOut.textContent = String(total);
    var grade = igaGrade(total);
    igaOut.textContent = grade ? grade.grade + " (" + grade.label + ")" : "\u2014";
  }

  // The AA-IGA grade of the rounded SALT (the value saved), never rounded again: the last grade
  // whose start it reaches. Must agree with clinical_core.salt_scale.aa_iga_grade, which grades
  // the saved score; the starts are that module's grade_starts, so only this reading is repeated.
  function igaGrade(total) {
    if (model.salt_max === null || !(total <= model.salt_max)) { return null; }
    var reached = model.grades.filter(function (g) {
      return g.inclusive ? total >= g.from : total > g.from;
    });
    return reached.length ? reached[reached.length - 1] : null;
  }

  form.addEventListener("input", update);
  update();
}());
