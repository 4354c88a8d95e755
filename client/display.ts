/**
 * `display` handling in browsers, as the Web SDK's webrtc-media-provider.js does it: the stream gets a <video> element
 * appended to the app's display element (id = the stream's id(), so `document.getElementById(stream.id())` finds it),
 * muted local preview for publishers, remote media for players with an autoplay fallback to muted playback.
 */

/**
 * Creates the <video> for a stream inside `display` (or reuses `display` itself when it is a <video>).
 * @param muted true for a publisher's local preview (always muted); players start unmuted and fall back to muted
 *   playback when the browser's autoplay policy refuses sound.
 */
export function attachVideo(
  doc: Document,
  display: HTMLElement,
  id: string,
  media: MediaStream,
  muted: boolean,
): HTMLVideoElement {
  const video = isVideo(display) ? display : doc.createElement("video");
  if (video !== display) video.id = id; // a <video> given by the app keeps its own id
  video.autoplay = true;
  video.muted = muted;
  video.setAttribute("playsinline", "");
  video.setAttribute("webkit-playsinline", "");
  video.srcObject = media;
  if (video !== display) display.appendChild(video);
  const start = () => {
    video.play().catch(() => {
      if (video.muted) return;
      video.muted = true; // autoplay with sound refused: play muted (the Web SDK's UNMUTE_REQUIRED case)
      video.play().catch(() => undefined);
    });
  };
  if (video.readyState >= 1) start();
  else video.addEventListener("loadedmetadata", start, { once: true });
  return video;
}

/** Detaches the media of a stream's <video> and removes the element if the SDK created it. */
export function detachVideo(display: HTMLElement | undefined, video: HTMLVideoElement): void {
  try {
    video.pause();
  } catch {
    // not playing
  }
  video.srcObject = null;
  if (video !== display) video.remove();
}

function isVideo(el: HTMLElement): el is HTMLVideoElement {
  return el.tagName === "VIDEO";
}
