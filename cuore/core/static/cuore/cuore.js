// Cuore's own script: small behaviour on top of HTMX.

// A form the server refused (422: invalid, 409: not allowed in this state) comes back re-rendered with
// its errors beside the fields: swap it in like a success instead of dropping it.
document.addEventListener("htmx:beforeSwap", function (event) {
  var status = event.detail.xhr.status;
  if ((status === 422 || status === 409) && event.detail.xhr.getResponseHeader("Content-Type").indexOf("text/html") === 0) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
document.addEventListener("htmx:responseError", function (event) {
  // An action refused by the server (4xx) shows its reason; nothing fails silently.
  var xhr = event.detail.xhr;
  var reason = xhr.getResponseHeader("X-Cuore-Reason");
  if (reason) {
    window.alert(decodeURIComponent(reason));
  }
});
