/**
 * The one error type of the media node's control API. Anything thrown while handling a worker request that is a
 * {@link MediaNodeError} becomes an `ApiError` body (`protocol/media-node.ts`) with the HTTP status of its code
 * (`API_HTTP_STATUS`); anything else is reported as `error` / 500.
 */
import { API_HTTP_STATUS, type ApiError } from "../protocol/media-node.js";
import type { RefusalCode } from "../protocol/refusal.js";

export class MediaNodeError extends Error {
  /**
   * @param code machine-readable refusal code (protocol/refusal.ts); decides the HTTP status
   * @param info WCS-style text passed on to the client (e.g. "Stream not found", "Invalid SDP: no m-lines")
   */
  constructor(
    readonly code: RefusalCode,
    readonly info: string,
  ) {
    super(info);
    this.name = "MediaNodeError";
  }

  /** HTTP status of the refusal. */
  get status(): number {
    return API_HTTP_STATUS[this.code];
  }

  toBody(): ApiError {
    return { code: this.code, info: this.info };
  }
}

/** `invalid_sdp` with the WCS-style info "Invalid SDP: <reason>". */
export function invalidSdp(reason: string): MediaNodeError {
  return new MediaNodeError("invalid_sdp", `Invalid SDP: ${reason}`);
}

/** `no_common_codecs` with the WCS info "No common codecs". */
export function noCommonCodecs(): MediaNodeError {
  return new MediaNodeError("no_common_codecs", "No common codecs");
}
