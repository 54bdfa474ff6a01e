/* Shared by every H5 page: the elder-mode preference (localStorage, and a cookie so
   the server renders the right class before any script runs) and speech. Loaded in
   <head> without defer: the class is set before the first paint. */
(function () {
  "use strict";
  var KEY = "ecard.elder";

  function storedElder() {
    try {
      var v = window.localStorage.getItem(KEY);
      if (v === "1" || v === "0") { return v === "1"; }
    } catch (e) { /* storage disabled: fall back to the cookie */ }
    return /(?:^|;\s*)ecard_elder=1(?:;|$)/.test(document.cookie);
  }

  function setElder(on) {
    try { window.localStorage.setItem(KEY, on ? "1" : "0"); } catch (e) { /* ignore */ }
    document.cookie = "ecard_elder=" + (on ? "1" : "0") +
      "; path=/h5; max-age=31536000; SameSite=Strict";
    applyElder(on);
  }

  function applyElder(on) {
    document.documentElement.classList.toggle("elder", !!on);
    var badge = document.querySelector("[data-role=mode-badge]");
    if (badge) { badge.textContent = on ? "长辈模式" : "标准模式"; }
  }

  /* Speak a prompt in Mandarin. Never waits for the end of speech: some web views
     have no voice installed and never fire "end", and the page's timing must not
     depend on it. */
  function speak(text, rate) {
    if (!text || !("speechSynthesis" in window)) { return; }
    try {
      window.speechSynthesis.cancel();
      var u = new window.SpeechSynthesisUtterance(text);
      u.lang = "zh-CN";
      u.rate = rate || 1;
      window.speechSynthesis.speak(u);
    } catch (e) { /* speech is a help, never a requirement */ }
  }

  /* A holder signed on through a government app (the HttpOnly session cookie) may
     start their own pension certification. The server renders data-sso-csrf into our
     pages only; the POST echoes it in a header (the cookie alone is not enough). The
     answer is the certify page's path with a fresh link token. */
  function ssoCsrf() { return (document.body && document.body.dataset.ssoCsrf) || ""; }

  function startCertification(mode) {
    return fetch("/h5/api/sso/certification", { method: "POST", credentials: "same-origin",
      cache: "no-store", headers: { "Content-Type": "application/json",
        "Accept": "application/json", "X-Ecard-CSRF": ssoCsrf() },
      body: JSON.stringify({ mode: mode }) })
      .then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (data) {
          if (!res.ok) {
            var err = new Error(data.code || ("HTTP " + res.status));
            err.code = data.code; err.userMessage = data.message_zh || data.message;
            throw err;
          }
          return data;
        });
      });
  }

  window.ecardH5 = { isElder: storedElder, setElder: setElder, applyElder: applyElder,
                     speak: speak, ssoCsrf: ssoCsrf, startCertification: startCertification };
  applyElder(storedElder());
  document.addEventListener("DOMContentLoaded", function () { applyElder(
    document.documentElement.classList.contains("elder")); });
})();
