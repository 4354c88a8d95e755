/** `wcs-edge publish`: publishes synthetic media or a looped .y4m file and prints the frames sent every second. */
import { openSession } from "./connect.js";
import { fail, finish, isExiting, onExit, onSignals, runFor, UsageError } from "./lifecycle.js";
import { elapsed, out, type GlobalOptions } from "./output.js";
import { openSource, type MediaSource, type SourceOptions } from "./sources.js";
import { fmtSendStats, SendMeter, timestamp } from "./stats.js";
import { activeOrFail, reportStatuses, stopStream, streamEnded } from "./streams.js";

/** The options of `publish` (see main.ts). */
export interface PublishOptions extends GlobalOptions, SourceOptions {
  name: string;
  duration?: number;
}

/**
 * Publishes `--name` from `--source` until `--duration`, Ctrl-C (exit 0) or a failure (exit 1).
 * @throws UsageError for a bad --source / --width / --height combination.
 */
export async function publishCommand(o: PublishOptions): Promise<void> {
  out.configure(o);
  let media: MediaSource;
  try {
    media = openSource(o);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    return fail(`--source ${o.source}: ${e instanceof Error ? e.message : String(e)}`);
  }
  onExit(() => media.stop());
  onSignals(() => void finish(0));
  const session = await openSession(o.url, o.token);
  const stream = session.createStream({ name: o.name, stream: media.stream });
  reportStatuses(stream, "publish");
  onExit(() => stopStream(stream));
  out.event(
    "source",
    { source: o.source, width: media.width, height: media.height, fps: media.fps },
    `publishing ${o.name}: ${media.width}x${media.height} @ ${media.fps} fps from ${media.label}`,
  );
  stream.publish();
  await activeOrFail(stream);
  void stream.ended().then((status) => {
    if (!isExiting()) void fail(streamEnded(stream, status), { name: o.name, status, info: stream.getInfo() ?? null });
  });

  const meter = new SendMeter(stream, () => media.framesSent());
  const timer = setInterval(() => {
    void meter.tick().then((s) => {
      if (!isExiting()) out.event("stats", { name: o.name, ...s }, `${timestamp()}  ${fmtSendStats(s)}`);
    });
  }, 1000);
  onExit(() => clearInterval(timer));
  onExit(() => {
    out.event("summary", { name: o.name, framesSent: media.framesSent(), seconds: elapsed() }, `published ${o.name}: ${media.framesSent()} frames in ${elapsed()} s`);
  });
  await runFor(o.duration); // until Ctrl-C, --duration, or the stream ends
}
