// rolegate console: small progressive enhancements; every page works without them.
"use strict";
document.addEventListener("click", (event) => {
  // Close the account menu when clicking elsewhere.
  const menu = document.getElementById("account-menu");
  if (menu && menu.open && !menu.contains(event.target)) menu.open = false;
});
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});
