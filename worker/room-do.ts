/**
 * RoomDO: one per room name (`idFromName(name)`), the WCS Room API's room (protocol/room.ts).
 *
 * It keeps the participants (login → session) and their published room streams, and pushes room events to the
 * participants' sessions (`SessionDO.push`): the joiner gets STATE (returned to its session, which sends it after the
 * ACCEPTED status), the others JOINED / LEFT / PUBLISHED / UNPUBLISHED / FAILED, and MESSAGE goes only to its
 * recipients. Only members are told anything about the room. Logins are unique per room: a second session with the
 * same login is refused and the first is untouched.
 *
 * Cleanup: a session that closes leaves its rooms (SessionDO.endSession). As a second line of defence the alarm asks
 * every participant's session, every {@link STALE_CHECK_MS}, whether it is still in the room, and removes the ones
 * that are not (LEFT to the others). An empty room deletes its storage.
 */
import { DurableObject } from "cloudflare:workers";
import {
  encodeServerMessage,
  MAX_ROOM_PARTICIPANTS,
  RoomEvent,
  RoomInfo,
  type RoomEventInfo,
  type RoomEventPayload,
  type RoomStreamInfo,
} from "../protocol/index.js";
import { sessionOf, type Env } from "./env.js";
import { configureLog, log } from "./log.js";
import { reportStats } from "./stats-do.js";
import { emitWebhooks } from "./webhooks.js";

/** Period of the stale-participant check, ms. */
export const STALE_CHECK_MS = 30_000;
/** Participants younger than this are not presence-checked yet, ms. */
const JOIN_GRACE_MS = 10_000;

interface Participant {
  login: string;
  sessionId: string;
  joinedAt: number;
}

interface RoomState {
  name: string;
  participants: Record<string, Participant>;
  /** Published room streams, in publish order. */
  streams: RoomStreamInfo[];
}

export type RoomResult = { ok: true } | { ok: false; info: string };

export class RoomDO extends DurableObject<Env> {
  private state: RoomState = { name: "", participants: {}, streams: [] };

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    configureLog(env);
    ctx.blockConcurrencyWhile(async () => {
      const saved = await ctx.storage.get<RoomState>("state");
      if (saved) this.state = saved;
    });
  }

  /**
   * Adds `login` (of session `sessionId`) to the room, creating the room if needed. Returns the STATE `info` for the
   * joiner (the other participants and their streams); the others get JOINED. Joining again from the same session
   * is accepted and returns the current STATE.
   */
  async join(room: string, login: string, sessionId: string): Promise<{ ok: true; state: RoomEventInfo["STATE"] } | { ok: false; info: string }> {
    this.state.name = room;
    const existing = this.state.participants[login];
    if (existing && existing.sessionId !== sessionId) return { ok: false, info: RoomInfo.LOGIN_IN_USE };
    if (!existing) {
      if (Object.keys(this.state.participants).length >= MAX_ROOM_PARTICIPANTS) return { ok: false, info: RoomInfo.ROOM_FULL };
      this.state.participants[login] = { login, sessionId, joinedAt: Date.now() };
      await this.save();
      const count = Object.keys(this.state.participants).length;
      reportStats(this.env, this.ctx, { participants: 1, rooms: count === 1 ? 1 : 0 });
      log("info", "room_joined", { room, login, sessionId, participants: Object.keys(this.state.participants).length });
      await Promise.all([this.broadcast(RoomEvent.JOINED, login, login), emitWebhooks(this.env, `room:${room}`, [{ type: "room.joined", data: { room, login } }])]);
    }
    return { ok: true, state: this.stateFor(login) };
  }

  /** Removes `login` if it belongs to `sessionId`; the others get LEFT. */
  async leave(login: string, sessionId: string, why = "leave"): Promise<RoomResult> {
    const p = this.state.participants[login];
    if (!p || p.sessionId !== sessionId) return { ok: false, info: RoomInfo.NOT_A_MEMBER };
    await this.remove(p, why);
    return { ok: true };
  }

  /**
   * Delivers MESSAGE {from, text} to each of `to` (logins), or to every other participant when `to` is "broadcast".
   * Every recipient must be in the room; otherwise nothing is sent and the command fails.
   */
  async sendMessage(from: string, sessionId: string, to: string[] | "broadcast", text: string): Promise<RoomResult> {
    const sender = this.state.participants[from];
    if (!sender || sender.sessionId !== sessionId) return { ok: false, info: RoomInfo.NOT_A_MEMBER };
    const recipients = to === "broadcast" ? Object.values(this.state.participants).filter((p) => p.login !== from) : [];
    if (to !== "broadcast") {
      for (const login of new Set(to)) {
        const p = this.state.participants[login];
        if (!p) return { ok: false, info: `${RoomInfo.RECIPIENT_NOT_IN_ROOM}: ${login}` };
        recipients.push(p);
      }
    }
    const hook = { type: "room.message", data: { room: this.state.name, from, recipients: recipients.length } } as const;
    await Promise.all([this.sendTo(recipients, RoomEvent.MESSAGE, { from, text }), emitWebhooks(this.env, `room:${this.state.name}`, [hook])]);
    return { ok: true };
  }

  /**
   * A room stream changed (called by its StreamDO): PUBLISHED when it starts publishing, UNPUBLISHED / FAILED when it
   * ends. Ignored unless `login` is a participant of this session: non-members cannot announce into a room.
   */
  async onStreamStatus(login: string, sessionId: string, streamName: string, event: "PUBLISHED" | "UNPUBLISHED" | "FAILED"): Promise<void> {
    const p = this.state.participants[login];
    if (!p || p.sessionId !== sessionId) return;
    const info: RoomStreamInfo = { login, name: streamName };
    if (event === RoomEvent.PUBLISHED) {
      if (!this.state.streams.some((s) => s.name === streamName)) this.state.streams.push(info);
    } else {
      const before = this.state.streams.length;
      this.state.streams = this.state.streams.filter((s) => s.name !== streamName);
      if (before === this.state.streams.length) return;
    }
    await this.save();
    await this.broadcast(event, info, login);
  }

  /** Participants and streams, for tests and operators. */
  async describe(): Promise<RoomState> {
    return structuredClone(this.state);
  }

  /** Removes participants whose session is gone or no longer in the room; forgets an empty room. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    for (const p of Object.values(this.state.participants)) {
      // a joiner's session records the room only after join() returns: give it time
      if (now - p.joinedAt < JOIN_GRACE_MS) continue;
      let present = false;
      try {
        present = await sessionOf(this.env, p.sessionId).inRoom(this.state.name, p.login);
      } catch (err) {
        log("warn", "room_presence_check_failed", { room: this.state.name, login: p.login, error: String(err) });
        present = true; // do not drop anyone on a transient error
      }
      if (!present && this.state.participants[p.login]?.sessionId === p.sessionId) await this.remove(p, "stale session");
    }
    await this.save();
  }

  // ---- internals ----

  private stateFor(login: string): RoomEventInfo["STATE"] {
    const out: RoomEventInfo["STATE"] = [];
    for (const p of Object.values(this.state.participants)) {
      if (p.login === login) continue;
      const streams = this.state.streams.filter((s) => s.login === p.login);
      if (streams.length === 0) out.push(p.login);
      else out.push(...streams.map((s) => ({ login: s.login, name: s.name })));
    }
    return out;
  }

  private async remove(p: Participant, why: string): Promise<void> {
    delete this.state.participants[p.login];
    this.state.streams = this.state.streams.filter((s) => s.login !== p.login);
    await this.save();
    reportStats(this.env, this.ctx, { participants: -1, rooms: Object.keys(this.state.participants).length === 0 ? -1 : 0 });
    log("info", "room_left", { room: this.state.name, login: p.login, why, participants: Object.keys(this.state.participants).length });
    const hook = { type: "room.left", data: { room: this.state.name, login: p.login, reason: why } } as const;
    await Promise.all([this.broadcast(RoomEvent.LEFT, p.login, p.login), emitWebhooks(this.env, `room:${this.state.name}`, [hook])]);
  }

  /** Sends an event to every participant except `except`. */
  private broadcast<E extends RoomEvent>(event: E, info: RoomEventInfo[E], except: string): Promise<void> {
    return this.sendTo(Object.values(this.state.participants).filter((p) => p.login !== except), event, info);
  }

  private async sendTo<E extends RoomEvent>(to: Participant[], event: E, info: RoomEventInfo[E]): Promise<void> {
    if (to.length === 0) return;
    const payload: RoomEventPayload<E> = { roomName: this.state.name, name: event, info };
    const frame = encodeServerMessage("OnDataEvent", { payload });
    await Promise.all(
      to.map(async (p) => {
        try {
          await sessionOf(this.env, p.sessionId).push(frame);
        } catch (err) {
          log("warn", "room_event_delivery_failed", { room: this.state.name, login: p.login, event, error: String(err) });
        }
      }),
    );
  }

  private async save(): Promise<void> {
    if (Object.keys(this.state.participants).length === 0) {
      await this.ctx.storage.deleteAll();
      await this.ctx.storage.deleteAlarm();
      return;
    }
    await this.ctx.storage.put("state", this.state);
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + STALE_CHECK_MS);
  }
}
