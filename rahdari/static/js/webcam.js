// Take the enrolment photo with the device camera and put it into the form's file input.
// Without a camera (or without permission) the plain file input still works.
(function () {
  "use strict";
  const box = document.querySelector("[data-webcam]");
  const input = document.querySelector("input[type=file][name=photo]");
  if (!box || !input || !navigator.mediaDevices || !window.DataTransfer) return;
  const start = box.querySelector("[data-webcam-start]");
  const video = box.querySelector("[data-webcam-video]");
  const snap = box.querySelector("[data-webcam-snap]");
  start.hidden = false;
  let stream = null;
  start.addEventListener("click", async function () {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" }, audio: false });
    } catch (err) {
      start.hidden = true;
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    snap.hidden = false;
    await video.play();
  });
  snap.addEventListener("click", function () {
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    canvas.toBlob(function (blob) {
      const transfer = new DataTransfer();
      transfer.items.add(new File([blob], "webcam.jpg", { type: "image/jpeg" }));
      input.files = transfer.files;
      stream.getTracks().forEach(function (track) { track.stop(); });
      video.hidden = true;
      snap.hidden = true;
    }, "image/jpeg", 0.9);
  });
})();
