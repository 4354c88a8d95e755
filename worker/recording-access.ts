/**
 * Who may download a recording's file at `GET /client/records/<recordName>` (worker/recordings.ts; README "Security"):
 * the link the WCS Stream Recording demo puts into a `<video src>`, which cannot send headers, so the token may also
 * come as `?token=`. With AUTH off anyone may; with AUTH on the caller shows an admin token (REST_API_TOKEN, or an
 * access token with `admin`) or an access token whose `play` grant covers the recorded stream's name
 * (protocol/access.ts). No Workers API: the pure tests run it.
 */
import { AuthInfo, granted } from "../protocol/access.js";
import { authenticateAdmin, type AuthConfig } from "./access.js";

/** The caller's right: which recorded stream names it may download, or the HTTP refusal of its credentials. */
export type DownloadAccess = { ok: true; allows: (streamName: string) => boolean } | { ok: false; status: 400 | 401 | 503; error: string };

/**
 * The download right of a caller that sent `authorization` (the header, when any) and `queryToken` (`?token=`; the
 * header wins).
 * @returns 400 for an Authorization that is not `Bearer <token>`, 401 without a token or with a bad one, 503 when AUTH is
 *   on without a token key or REST token (`not_configured`)
 */
export async function downloadAccess(cfg: AuthConfig, authorization: string | undefined, queryToken: string | undefined): Promise<DownloadAccess> {
  if (!cfg.AUTH) return { ok: true, allows: () => true };
  const bearer = authorization === undefined ? undefined : /^Bearer\s+(\S+)$/i.exec(authorization.trim())?.[1];
  if (authorization !== undefined && bearer === undefined) return { ok: false, status: 400, error: "Authorization must be Bearer <token>" };
  const auth = await authenticateAdmin(cfg, bearer ?? queryToken);
  if (!auth.ok) return { ok: false, status: auth.code === "not_configured" ? 503 : 401, error: auth.info };
  const access = auth.access;
  return { ok: true, allows: (streamName) => access.admin || granted(access, "play", streamName) };
}

/** The 403 text for a stream the caller may not download. */
export const notAllowed = (streamName: string): string => AuthInfo.notGranted("play", streamName);
