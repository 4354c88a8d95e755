/**
 * The one error type of the media node's control API. Anything thrown while handling a worker request that is a
 * {@link MediaNodeError} becomes an `ApiError` body (`protocol/media-node.ts`) with its HTTP status; anything else is
 * reported as `internal` / 500.
 */
import type { ApiError } from "../protocol/media-node.js";

export type ApiErrorCode = ApiError["code"];

/** Default HTTP status per error code. */
const STATUS: Record<ApiErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  not_found: 404,
  conflict: 409,
  no_common_codecs: 400,
  invalid_sdp: 400,
  internal: 500,
};

export class MediaNodeError extends Error {
  /**
   * @param code machine-readable `ApiError.code`
   * @param info WCS-style text passed on to the client (e.g. "Stream not found", "Invalid SDP: no m-lines")
   * @param status HTTP status; defaults per code (400, 401, 404, 409, 500)
   */
  constructor(
    readonly code: ApiErrorCode,
    readonly info: string,
    readonly status: number = STATUS[code],
  ) {
    super(info);
    this.name = "MediaNodeError";
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
