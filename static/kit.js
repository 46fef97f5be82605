// Kit page: "copy the link" buttons and read-only fields selected on focus (no inline script:
// the Content-Security-Policy forbids it).
document.querySelectorAll("[data-copy]").forEach(function (button) {
  button.addEventListener("click", function () {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) { return; }
    field.select();
    if (navigator.clipboard) {
      navigator.clipboard.writeText(field.value).then(function () { button.textContent = "Lien copié"; });
    } else {
      button.textContent = "Lien sélectionné : Ctrl+C pour copier";
    }
  });
});
document.querySelectorAll("[data-select-on-focus]").forEach(function (field) {
  field.addEventListener("focus", function () { field.select(); });
});
