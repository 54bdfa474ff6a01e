/* The elder-mode switch of the home and settings pages. */
(function () {
  "use strict";
  function render() {
    var on = window.ecardH5.isElder();
    document.querySelectorAll("[data-role=elder-toggle]").forEach(function (b) {
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
    document.querySelectorAll("[data-role=elder-toggle-label]").forEach(function (l) {
      l.textContent = on ? "关闭长辈模式" : "开启长辈模式";
    });
    document.querySelectorAll("[data-role=elder-state]").forEach(function (s) {
      s.textContent = on ? "长辈模式：已开启 ✓" : "长辈模式：未开启";
    });
  }
  document.querySelectorAll("[data-role=elder-toggle]").forEach(function (b) {
    b.addEventListener("click", function () {
      var on = !window.ecardH5.isElder();
      window.ecardH5.setElder(on);
      window.ecardH5.speak(on ? "长辈模式已开启" : "长辈模式已关闭", on ? 0.75 : 1);
      render();
    });
  });
  render();
})();
