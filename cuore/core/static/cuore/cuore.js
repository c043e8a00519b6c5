// Cuore's own script: small behaviour on top of HTMX.
document.addEventListener("htmx:responseError", function (event) {
  // An action refused by the server (4xx) shows its reason; nothing fails silently.
  var xhr = event.detail.xhr;
  var reason = xhr.getResponseHeader("X-Cuore-Reason");
  if (reason) {
    window.alert(decodeURIComponent(reason));
  }
});
