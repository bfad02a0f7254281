// The counter's camera scanner: reads the QR from the video with jsQR (served by the
// platform, no CDN), puts the text into the form and submits it. Without a camera, or
// without permission, the text box (hand-held scanners type into it) and the photo
// upload still work.
(function () {
  "use strict";
  // After a check, move focus to the verdict so a screen reader reads it out first.
  const verdict = document.querySelector("[data-verdict]");
  if (verdict) verdict.focus();
  const box = document.querySelector("[data-scanner]");
  const field = document.querySelector("textarea[name=qr]");
  if (!box || !field || !window.jsQR || !navigator.mediaDevices) return;
  const start = box.querySelector("[data-scanner-start]");
  const stop = box.querySelector("[data-scanner-stop]");
  const video = box.querySelector("[data-scanner-video]");
  const note = box.querySelector("[data-scanner-note]");
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  let stream = null;
  start.hidden = false;

  function finish() {
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
    video.hidden = true;
    stop.hidden = true;
    start.hidden = false;
  }

  function tick() {
    if (!stream) return;
    if (video.readyState >= video.HAVE_CURRENT_DATA && video.videoWidth) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      context.drawImage(video, 0, 0);
      const frame = context.getImageData(0, 0, canvas.width, canvas.height);
      const found = window.jsQR(frame.data, frame.width, frame.height, { inversionAttempts: "dontInvert" });
      if (found && found.data) {
        field.value = found.data;
        finish();
        field.form.requestSubmit();
        return;
      }
    }
    window.setTimeout(tick, 150);
  }

  start.addEventListener("click", async function () {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (err) {
      note.hidden = false;
      start.hidden = true;
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    stop.hidden = false;
    start.hidden = true;
    await video.play();
    tick();
  });
  stop.addEventListener("click", finish);
})();
