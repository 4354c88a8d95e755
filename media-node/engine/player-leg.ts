/**
 * The player's leg: sends the publisher's RTP to one player (sendonly tracks declaring the publisher's SSRC), answers
 * NACKs natively and passes keyframe requests to the router.
 */
import { Audio, RtcpNackResponder, Video, type Track } from "node-datachannel";
import type { LegMedia } from "../../protocol/media-node.js";
import { hasKeyframeRequest } from "../rtcp.js";
import type { PlayerPlan } from "../plans.js";
import type { MediaKind } from "../sdp.js";
import { addCodec, inactiveDescription, noop } from "./descriptions.js";
import { Leg, type EngineOptions } from "./leg.js";
import type { StreamRouter, Target } from "./stream-router.js";

/**
 * A player's leg: sends the publisher's RTP to one player (sendonly).
 *
 * Answer: for each kind the publisher sends, the player's first recvonly/sendrecv m-line of that kind gets a
 * sendonly track with the player's mid and the payload type the player offered for the publisher's codec (with the
 * publisher's fmtp), declaring the publisher's SSRC, CNAME and a shared msid (RFC 5576, RFC 8830) so audio and video
 * form one stream. Other m-lines are answered inactive. The video track has an `RtcpNackResponder` that answers
 * NACKs (RFC 4585 §6.2.1) from a native history of sent packets; PLI/FIR from the player are passed to the
 * router's throttled {@link StreamRouter.requestKeyframe}. When a track opens, {@link StreamRouter.attach} sends it
 * the stream's cached GOP (or asks for a keyframe when there is none) and then the live packets.
 *
 * Offer mode (plan from `planOfferedPlayer`): the same tracks, with our own mids and the publisher's payload types,
 * go into an offer ({@link offer}); {@link applyAnswer} completes the negotiation. Everything else is identical.
 */
export class PlayerLeg extends Leg {
  readonly role = "player" as const;
  readonly plan: PlayerPlan;
  private readonly tracks: Track[] = [];

  /**
   * @param router the stream's router (its publisher must send what `plan` uses)
   * @param plan from `planPlayer` (plans.ts)
   */
  constructor(
    legId: string,
    streamName: string,
    opts: EngineOptions,
    readonly router: StreamRouter,
    plan: PlayerPlan,
  ) {
    super(legId, streamName, opts);
    this.plan = plan;
    const pub = router.publisher;
    const msid = `wcs-${streamName.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 64) || "stream"}`;
    const made: Partial<Record<MediaKind, Track>> = {};
    for (const kind of ["video", "audio"] as const) {
      const played = plan[kind];
      const published = pub[kind];
      if (!played || !published) continue;
      const desc = kind === "video" ? new Video(played.mid, "SendOnly") : new Audio(played.mid, "SendOnly");
      // Our sendonly track carries the publisher's codec under the player's payload type.
      addCodec(desc, kind, played.pt, { ...published.codec, pt: played.pt });
      desc.addSSRC(published.ssrc, published.cname ?? msid, msid, `${msid}-${kind}`);
      const track = this.pc.addTrack(desc);
      this.tracks.push(track);
      made[kind] = track;
    }
    for (const m of plan.inactive) {
      const t = this.pc.addTrack(inactiveDescription(m));
      t.onMessage(noop);
      this.tracks.push(t);
    }
    // RTCP (sender reports) goes through a track without media handler when there is one, so that the NACK
    // responder's packet history (keyed by RTP sequence number) never stores RTCP.
    const rtcpTrack = made.audio ?? made.video!;
    for (const kind of ["video", "audio"] as const) {
      const track = made[kind];
      const played = plan[kind];
      if (!track || !played) continue;
      const target: Target = { leg: this, track, rtcpTrack, pt: played.pt };
      if (kind === "video") {
        track.setMediaHandler(new RtcpNackResponder());
        track.onMessage((buf) => {
          this.packetsIn++;
          this.bytesIn += buf.length;
          if (hasKeyframeRequest(buf)) router.requestKeyframe();
        });
      } else {
        track.onMessage((buf) => {
          this.packetsIn++;
          this.bytesIn += buf.length;
        });
      }
      track.onOpen(() => {
        if (this.isEnded) return;
        // the GOP cache's burst, then live; a keyframe request only when there is no usable GOP (StreamRouter.attach)
        router.attach(kind, target);
      });
      track.onError((err) => this.fail(err));
    }
    router.addPlayer(this);
  }

  get media(): LegMedia {
    return { videoCodec: this.plan.video?.codec.name, audioCodec: this.plan.audio?.codec.name };
  }

  /** Answers the player's offer; see {@link Leg.negotiate}. */
  answer(offer: string): Promise<string> {
    return this.negotiate(offer);
  }

  /** Offer mode (plan from `planOfferedPlayer`): our sendonly offer; see {@link Leg.makeOffer}. */
  offer(): Promise<string> {
    return this.makeOffer();
  }

  /** Offer mode: applies the remote answer (checked by the caller with `checkPlayerAnswer`); see {@link Leg.setAnswer}. */
  applyAnswer(answer: string): void {
    this.setAnswer(answer);
  }

  protected detach(): void {
    this.router.removePlayer(this);
  }
}
