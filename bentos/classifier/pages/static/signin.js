// A sign-in link (`make demo` prints one) carries its token after "#", which browsers never send to
// a server: move it into the token form, drop it from the address bar and history, and sign in.
(function () {
  const match = /^#token=([A-Za-z0-9._-]+)$/.exec(location.hash);
  if (!match) return;
  history.replaceState(null, "", location.pathname);
  document.addEventListener("DOMContentLoaded", function () {
    const form = document.getElementById("with-token");
    form.elements.token.value = match[1];
    form.submit();
  });
})();
