// The console works without this script. It only asks before a bulk action: a form with
// data-confirm is sent once the operator says yes.
document.addEventListener("submit", function (event) {
  var question = event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
