/* The home page's start button for a holder signed on through a government app: a
   pension certification in the mode chosen by the elder-mode switch, then the
   certify page with its fresh link. Errors are said on the page, never in a pop-up. */
(function () {
  "use strict";
  var button = document.querySelector("[data-role=sso-start]");
  if (!button) { return; }
  var note = document.querySelector("[data-role=entry-mode]");
  var error = document.querySelector("[data-role=entry-error]");

  function mode() { return window.ecardH5.isElder() ? "elder" : "standard"; }
  function render() {
    note.textContent = mode() === "elder" ? "将按长辈模式认证：只做一个动作，有语音提示，不限时间。"
      : "将按标准模式认证。需要更大的字和更慢的提示，请先开启长辈模式。";
  }
  document.querySelectorAll("[data-role=elder-toggle]").forEach(function (b) {
    b.addEventListener("click", render);
  });
  button.addEventListener("click", function () {
    button.disabled = true;
    error.hidden = true;
    window.ecardH5.startCertification(mode()).then(function (data) {
      window.location.assign(data.path);
    }).catch(function (err) {
      button.disabled = false;
      error.textContent = (err && err.userMessage) || "网络不太好，请稍后再试。";
      error.hidden = false;
    });
  });
  render();
})();
