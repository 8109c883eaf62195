// Progressive enhancement only: every form works without this file.
// Forms with data-confirm ask before they are sent.
document.addEventListener("submit", function (e) {
  var msg = e.target.getAttribute && e.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) e.preventDefault();
});
