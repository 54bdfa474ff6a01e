/* The certification page: read the session, open the front camera after the user
   taps "开始认证", follow the server's capture plan (speak each prompt, take key
   frames as JPEG with their capture time), send them once, show the result in words.
   No pop-ups anywhere (no alert/confirm/prompt): every message is a screen. */
(function () {
  "use strict";
  var body = document.body;
  var sessionId = body.dataset.sessionId;
  var token = takeToken();
  var session = null;
  var stream = null;
  var timers = [];
  var countdownTimer = null;
  var clockOffsetMs = 0; // server time minus this device's time
  // a holder signed on through a government app can start a new session here
  var signedOn = !!window.ecardH5.ssoCsrf();

  var FINAL_TEXT = { standard: "请正对屏幕，保持不动", elder: "好的，请您看着屏幕，不用动。" };
  var LABELS = { blink: "眨眼", open_mouth: "张嘴", turn_left: "向左转头",
                 turn_right: "向右转头" };

  /* The link's token arrives in the fragment. Keep it in this tab's sessionStorage
     and take it out of the address bar, so it is not left in history, bookmarks or a
     screenshot of the URL; a reload in the same tab still finds it. */
  function takeToken() {
    var key = "ecard.h5.token." + sessionId;
    var fromUrl = new URLSearchParams(window.location.hash.slice(1)).get("t");
    try {
      if (fromUrl) {
        window.sessionStorage.setItem(key, fromUrl);
        window.history.replaceState(null, "", window.location.pathname);
      }
      return fromUrl || window.sessionStorage.getItem(key) || "";
    } catch (e) {
      return fromUrl || "";
    }
  }

  function $(role) { return document.querySelector("[data-role=" + role + "]"); }
  function all(role) { return document.querySelectorAll("[data-role=" + role + "]"); }

  function show(name, state) {
    document.querySelectorAll("[data-screen]").forEach(function (s) {
      s.hidden = s.dataset.screen !== name;
    });
    body.dataset.state = state || name;
    window.scrollTo(0, 0);
  }

  function elderUi() { return session && (session.mode === "elder" || window.ecardH5.isElder()); }

  function speechRate() {
    var rate = session.prompts.speech_rate || 1;
    return elderUi() ? Math.min(rate, 0.75) : rate;
  }

  function api(method, path, payload) {
    var init = { method: method, headers: { "Authorization": "Bearer " + token,
      "Accept": "application/json" }, credentials: "omit", cache: "no-store",
      referrerPolicy: "no-referrer" };
    if (payload !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    return fetch("/h5/api/sessions/" + encodeURIComponent(sessionId) + path, init)
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

  function setBack(url) {
    all("back").forEach(function (a) {
      if (url) { a.href = url; a.hidden = false; } else { a.hidden = true; }
    });
  }

  function fail(err) {
    stopCamera();
    $("error-message").textContent = (err && err.userMessage) ||
      "网络不太好，请检查网络后返回应用重新进入。";
    show("error", err && err.code === "H5_LINK_INVALID" ? "link-invalid" : "error");
  }

  /* ---- ready screen ----------------------------------------------------------- */
  function ready() {
    window.ecardH5.applyElder(elderUi());
    // a pension certification, or the real-person check of a first e-card / PIN reset
    $("title").textContent = session.purpose === "entitlement" ? "养老金资格认证" : "本人刷脸认证";
    $("who").textContent = session.name_masked ? "认证人：" + session.name_masked : "";
    $("intro").textContent = session.prompts.intro;
    $("time-note").textContent = elderUi() ? "不着急，慢慢来。" :
      "请在" + Math.max(0, Math.round(remainingMs() / 1000)) + "秒内完成。";
    setBack(session.return_url);
    show("ready");
  }

  function remainingMs() {
    return new Date(session.deadline).getTime() - (Date.now() + clockOffsetMs);
  }

  /* ---- camera ------------------------------------------------------------------- */
  function cameraError(err) {
    var name = err && err.name;
    var msg;
    if (name === "NotAllowedError" || name === "SecurityError") {
      msg = "您没有允许使用摄像头，刷脸认证需要打开前置摄像头。请按下面的步骤允许后重试。";
      $("camera-steps").hidden = false;
    } else if (name === "NotFoundError" || name === "OverconstrainedError" || !name) {
      msg = "这部手机没有找到可用的前置摄像头。请换一部手机，或请家人帮您认证。";
      $("camera-steps").hidden = true;
    } else {
      msg = "摄像头正被其他应用使用，或暂时打不开。请关闭其他使用摄像头的应用后重试。";
      $("camera-steps").hidden = true;
    }
    $("camera-message").textContent = msg;
    setBack(session && session.return_url);
    show("camera-error", name === "NotAllowedError" ? "camera-denied" : "camera-missing");
  }

  function stopCamera() {
    timers.forEach(clearTimeout);
    timers = [];
    if (countdownTimer) { clearInterval(countdownTimer); countdownTimer = null; }
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
  }

  function start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      cameraError({ name: "NotFoundError" });
      return;
    }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" }, audio: false })
      .then(function (s) {
        stream = s;
        var video = $("preview");
        video.srcObject = s;
        show("camera", "capturing");
        var begun = false;
        function begin() {
          if (begun || !video.videoWidth) { return; }
          begun = true;
          run(video);
        }
        video.addEventListener("playing", begin);
        video.addEventListener("loadeddata", begin);
        var p = video.play();
        if (p && p.catch) { p.catch(function () { /* autoplay is muted: ignore */ }); }
      })
      .catch(cameraError);
  }

  /* ---- the plan ------------------------------------------------------------------ */
  function showStep(step) {
    var steps = session.prompts.steps;
    var action = step >= 0 && step < steps.length ? steps[step].action : "face";
    document.querySelectorAll("[data-icon]").forEach(function (i) {
      i.hidden = i.dataset.icon !== action;
    });
    var text, speakText;
    if (step < 0) {
      text = "请正对屏幕"; speakText = session.prompts.intro;
      $("step-count").textContent = "准备";
    } else if (step < steps.length) {
      text = steps[step].text; speakText = steps[step].speak;
      $("step-count").textContent = "第 " + (step + 1) + " 步，共 " + steps.length + " 步：" +
        LABELS[action];
    } else {
      text = "请正对屏幕"; speakText = FINAL_TEXT[session.mode === "elder" ? "elder" : "standard"];
      $("step-count").textContent = "最后一步";
    }
    $("prompt").textContent = text;
    window.ecardH5.speak(speakText, speechRate());
  }

  function grab(video) {
    var w = video.videoWidth, h = video.videoHeight;
    var scale = Math.min(1, 640 / Math.max(w, h));
    var canvas = document.createElement("canvas");
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(h * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    var url = canvas.toDataURL("image/jpeg", 0.9);
    return { image: url.slice(url.indexOf(",") + 1), captured_at: new Date().toISOString() };
  }

  function run(video) {
    var plan = session.plan;
    var frames = [];
    var t0 = performance.now();
    function at(seconds, fn) {
      timers.push(setTimeout(fn, Math.max(0, t0 + seconds * 1000 - performance.now())));
    }
    if (!elderUi()) {
      var cd = $("countdown");
      cd.hidden = false;
      var tick = function () {
        cd.textContent = "剩余 " + Math.max(0, Math.ceil(remainingMs() / 1000)) + " 秒";
      };
      tick();
      countdownTimer = setInterval(tick, 500);
    }
    plan.cues.forEach(function (cue) { at(cue.at_s, function () { showStep(cue.step); }); });
    plan.captures.forEach(function (c, i) {
      at(c.at_s, function () {
        frames.push(grab(video));
        if (i === plan.captures.length - 1) { submit(frames); }
      });
    });
  }

  function submit(frames) {
    stopCamera();
    show("sending");
    window.ecardH5.speak("正在核验，请稍候", speechRate());
    api("POST", "/frames", { frames: frames.slice(0, session.max_frames) })
      .then(result)
      .catch(function (err) {
        // The answer was lost but the session was decided (a retry, a dropped
        // connection): read the outcome instead of showing an error.
        if (err && err.code === "SESSION_ALREADY_DECIDED") {
          api("GET", "").then(function (data) {
            if (data.outcome) { result(data.outcome); } else { fail(err); }
          }).catch(fail);
        } else {
          fail(err);
        }
      });
  }

  /* ---- result -------------------------------------------------------------------- */
  function result(out) {
    var passed = !!out.passed;
    $("result-mark").textContent = passed ? "✓ 通过" : "✗ 未通过";
    $("result-title").textContent = passed ? "认证通过" : "认证未通过";
    $("reason").textContent = passed ? "您已完成本次资格认证，谢谢。" :
      (out.message || "本次认证没有通过。");
    var until = $("until");
    until.hidden = !out.certified_until;
    if (out.certified_until) { until.textContent = "认证有效期至 " + out.certified_until + "。"; }
    var next = out.next_step;
    $("next").hidden = passed || !next;
    $("use-elder").hidden = true;
    $("next-after").hidden = true;
    if (!passed && next) {
      $("next-message").textContent = next.message || "";
      if (next.kind === "elder_mode" && signedOn) {
        // signed on through a government app: start the elder session right here
        $("use-elder").hidden = false;
        $("use-elder").textContent = "用长辈模式重新认证";
        $("next-after").hidden = false;
        $("next-after").textContent = "点上面的按钮，马上用长辈模式再认证一次。";
      } else if (next.kind === "elder_mode") {
        $("use-elder").hidden = window.ecardH5.isElder();
        $("next-after").hidden = false;
        $("next-after").textContent = "开启后请返回应用，重新进入认证。";
      } else if (next.kind === "appeal" && next.appeal_id) {
        $("next-after").hidden = false;
        $("next-after").textContent = "审核编号：" + next.appeal_id;
      }
    }
    setBack(out.return_url);
    show("result", passed ? "passed" : "failed");
    var spoken = passed ? "认证通过" : ("认证未通过。" + (out.message || "") +
      (next && next.message ? next.message : ""));
    window.ecardH5.speak(spoken, speechRate());
  }

  /* ---- wiring -------------------------------------------------------------------- */
  $("start").addEventListener("click", start);
  $("retry-camera").addEventListener("click", start);
  $("use-elder").addEventListener("click", function () {
    window.ecardH5.setElder(true);
    if (signedOn) {
      $("use-elder").disabled = true;
      window.ecardH5.startCertification("elder").then(function (data) {
        window.location.assign(data.path);
      }).catch(function (err) {
        $("use-elder").disabled = false;
        $("next-after").textContent = (err && err.userMessage) || "网络不太好，请稍后再试。";
      });
      return;
    }
    $("use-elder").hidden = true;
    $("next-after").textContent = "长辈模式已开启 ✓。请返回应用，重新进入认证。";
  });

  if (!token) {
    fail({ code: "H5_LINK_INVALID", userMessage: "认证链接不完整，请返回应用重新进入。" });
    return;
  }
  api("GET", "").then(function (data) {
    session = data;
    clockOffsetMs = new Date(data.now).getTime() - Date.now();
    if (data.outcome) {
      window.ecardH5.applyElder(elderUi());
      result(data.outcome);
    } else if (data.status !== "open") {
      fail({ userMessage: "本次认证已结束，请返回应用重新开始。" });
    } else {
      ready();
    }
  }).catch(fail);
})();
