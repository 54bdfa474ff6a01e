/* The government app's entry: its server signed a one-time ticket and opened
   /h5/sso#ticket=<ticket>. Redeem it (the answer sets the H5 session cookie), take it
   out of the address bar, and go on to the home. The ticket never leaves the fragment
   except in this one same-origin POST body. */
(function () {
  "use strict";
  var ticket = new URLSearchParams(window.location.hash.slice(1)).get("ticket") || "";
  try { window.history.replaceState(null, "", window.location.pathname); } catch (e) { /* */ }

  function fail(message) {
    document.querySelectorAll("[data-screen]").forEach(function (s) {
      s.hidden = s.dataset.screen !== "error";
    });
    document.querySelector("[data-role=error-message]").textContent = message;
    document.body.dataset.state = "error";
  }

  if (!ticket) { fail("登录凭证不完整。"); return; }
  fetch("/api/v1/h5/sso", { method: "POST", credentials: "same-origin", cache: "no-store",
    headers: { "Content-Type": "application/json", "Accept": "application/json",
               "Accept-Language": "zh" },
    body: JSON.stringify({ ticket: ticket }) })
    .then(function (res) {
      if (res.ok) { window.location.replace("/h5/"); return null; }
      return res.json().catch(function () { return {}; }).then(function (data) {
        fail(data.message_zh || data.message || "登录凭证无效或已过期。");
      });
    })
    .catch(function () { fail("网络不太好，请检查网络。"); });
})();
