/** `wcs-edge play`: plays a stream and prints the received frame rate and resolution every second, then a summary. */
import { STREAM_STATUS_INFO } from "../node.js";
import { openSession } from "./connect.js";
import { fail, finish, isExiting, onExit, onSignals, runFor } from "./lifecycle.js";
import { out, type GlobalOptions } from "./output.js";
import { fmtStats, FrameMeter, timestamp } from "./stats.js";
import { activeOrFail, reportStatuses, stopStream, streamEnded } from "./streams.js";

/** The options of `play` (see main.ts). */
export interface PlayOptions extends GlobalOptions {
  name: string;
  duration?: number;
}

/**
 * Plays `--name` until `--duration`, Ctrl-C or the publisher stopping (exit 0), or a failure such as
 * "Stream not found" (exit 1).
 */
export async function playCommand(o: PlayOptions): Promise<void> {
  out.configure(o);
  onSignals(() => void finish(0));
  const session = await openSession(o.url, o.token);
  const stream = session.createStream({ name: o.name });
  reportStatuses(stream, "play");
  onExit(() => stopStream(stream));
  stream.play();
  await activeOrFail(stream);
  const meter = new FrameMeter(stream);
  onExit(() => {
    const s = meter.summary();
    meter.stop();
    out.event(
      "summary",
      { name: o.name, ...s },
      `played ${o.name}: ${s.frames} frames, ${s.width}x${s.height}, average ${s.fps.toFixed(1)} fps over ${s.seconds} s` +
        (s.firstFrameMs !== null ? `, first frame after ${s.firstFrameMs} ms` : ""),
    );
  });
  void stream.ended().then((status) => {
    if (isExiting()) return;
    const info = stream.getInfo();
    // the publisher stopping is a normal end of playback; anything else is a failure
    if (info === STREAM_STATUS_INFO.STOPPED_BY_PUBLISHER_STOP) {
      out.event("ended", { name: o.name, status, info }, `${o.name} ended: ${info}`);
      void finish(0);
    } else void fail(streamEnded(stream, status), { name: o.name, status, info: info ?? null });
  });
  const timer = setInterval(() => {
    void meter.tick().then((s) => {
      if (!isExiting()) out.event("stats", { name: o.name, ...s }, `${timestamp()}  ${fmtStats(s)}`);
    });
  }, 1000);
  onExit(() => clearInterval(timer));
  await runFor(o.duration);
}
