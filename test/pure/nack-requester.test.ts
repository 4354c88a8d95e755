/**
 * media-node/engine/nack-requester.ts NackRequester with an injected clock: gap detection, the sequence wrap at
 * 65535, reordering, duplicates, the bounded window, request limit and spacing, repaired / unrepaired counting,
 * resets on huge jumps, and a simulated lossy path with a sender that answers NACKs.
 */
import { describe, expect, it } from "vitest";
import {
  ARRIVAL_DUPLICATE,
  ARRIVAL_FILLED,
  ARRIVAL_NEW,
  ARRIVAL_OLD,
  ARRIVAL_REPAIRED,
  NackRequester,
  type NackRequesterOptions,
} from "../../media-node/engine/nack-requester.js";

/** A requester on a fake clock; `due()` = the numbers collect() returns now. */
function setup(o: NackRequesterOptions = {}) {
  let t = 0;
  const r = new NackRequester({ now: () => t, ...o });
  const out = new Uint16Array(512);
  return {
    r,
    at(ms: number) {
      t = ms;
    },
    get t() {
      return t;
    },
    feed(...seqs: number[]) {
      return seqs.map((s) => r.onPacket(s));
    },
    due(): number[] {
      return [...out.subarray(0, r.collect(out))];
    },
  };
}

describe("NackRequester: gaps", () => {
  it("packets in order: nothing to ask for", () => {
    const s = setup();
    for (let i = 0; i < 1000; i++) {
      s.at(i);
      expect(s.r.onPacket(i)).toBe(ARRIVAL_NEW);
      expect(s.due()).toEqual([]);
    }
    expect(s.r.requested).toBe(0);
  });

  it("a gap is asked for at once, each number counted once as requested", () => {
    const s = setup();
    expect(s.feed(1, 2, 5)).toEqual([ARRIVAL_NEW, ARRIVAL_NEW, ARRIVAL_NEW]);
    expect(s.r.pending).toBe(2);
    expect(s.due()).toEqual([3, 4]);
    expect(s.due()).toEqual([]); // not again before the retry interval
    expect([s.r.requested, s.r.requests]).toEqual([2, 2]);
    s.feed(6, 9);
    expect(s.due()).toEqual([7, 8]); // only the new gap: the old one is not due yet
    expect(s.r.requested).toBe(4);
  });

  it("across the wrap at 65535", () => {
    const s = setup();
    s.feed(65533, 65534, 1);
    expect(s.due()).toEqual([65535, 0]);
    s.at(30);
    expect(s.feed(0, 65535)).toEqual([ARRIVAL_REPAIRED, ARRIVAL_REPAIRED]);
    expect([s.r.requested, s.r.repaired, s.r.unrepaired, s.r.pending]).toEqual([2, 2, 0, 0]);
    expect(s.feed(2)).toEqual([ARRIVAL_NEW]);
  });

  it("a packet reordered before the NACK went out is filled, not requested nor repaired", () => {
    const s = setup();
    expect(s.feed(1, 3, 2, 4)).toEqual([ARRIVAL_NEW, ARRIVAL_NEW, ARRIVAL_FILLED, ARRIVAL_NEW]);
    expect(s.due()).toEqual([]);
    expect([s.r.requested, s.r.repaired, s.r.pending]).toEqual([0, 0, 0]);
  });

  it("duplicates: of the highest, of an older packet, of a repaired one", () => {
    const s = setup();
    s.feed(10, 11, 13);
    expect(s.feed(13)).toEqual([ARRIVAL_DUPLICATE]);
    expect(s.feed(11)).toEqual([ARRIVAL_DUPLICATE]);
    s.due();
    expect(s.feed(12, 12)).toEqual([ARRIVAL_REPAIRED, ARRIVAL_DUPLICATE]);
    expect(s.r.repaired).toBe(1);
  });

  it("packets from before the first one, or behind the window, cannot be told: old", () => {
    const s = setup({ windowSize: 64 });
    s.feed(100);
    expect(s.feed(99)).toEqual([ARRIVAL_OLD]);
    for (let i = 101; i <= 300; i++) s.feed(i);
    expect(s.feed(250)).toEqual([ARRIVAL_DUPLICATE]); // inside the window (63 behind at most)
    expect(s.feed(237)).toEqual([ARRIVAL_DUPLICATE]);
    expect(s.feed(236)).toEqual([ARRIVAL_OLD]); // 64 behind
    expect(s.feed(200)).toEqual([ARRIVAL_OLD]);
  });
});

describe("NackRequester: requests, spacing and limits", () => {
  it("retries every 1.5 × the round trip (100 ms assumed until measured), at least minRetryMs, at most maxRequests times, then gives up", () => {
    const s = setup({ maxRequests: 3, minRetryMs: 20 });
    s.feed(1, 3);
    expect(s.due()).toEqual([2]);
    s.at(149);
    expect(s.due()).toEqual([]);
    s.at(150);
    expect(s.due()).toEqual([2]);
    s.at(300);
    expect(s.due()).toEqual([2]);
    expect([s.r.requested, s.r.requests]).toEqual([1, 3]);
    s.at(449);
    expect(s.due()).toEqual([]);
    expect(s.r.unrepaired).toBe(0); // the last request still has its time
    s.at(450);
    expect(s.due()).toEqual([]);
    expect([s.r.unrepaired, s.r.pending]).toEqual([1, 0]);
    // a give-up that arrives after all is forwarded as "old", counted in neither
    expect(s.feed(2)).toEqual([ARRIVAL_OLD]);
    expect([s.r.repaired, s.r.unrepaired]).toEqual([0, 1]);
  });

  it("measures the round trip from packets answered after one NACK (Karn), and spaces retries by it", () => {
    const s = setup({ minRetryMs: 20 });
    s.feed(1, 3);
    s.due();
    s.at(40);
    expect(s.feed(2)).toEqual([ARRIVAL_REPAIRED]);
    expect(s.r.rttMs).toBe(40); // the first sample replaces the assumption
    expect(s.r.retryMs).toBe(60);
    s.feed(5);
    expect(s.due()).toEqual([4]);
    s.at(99);
    expect(s.due()).toEqual([]);
    s.at(100);
    expect(s.due()).toEqual([4]); // 60 ms later
    s.at(500);
    expect(s.feed(4)).toEqual([ARRIVAL_REPAIRED]); // asked twice: no sample
    expect(s.r.rttMs).toBe(40);
    // a fast path: the spacing never drops below minRetryMs
    s.feed(7);
    s.due();
    s.at(501);
    s.feed(6);
    expect(s.r.rttMs).toBeCloseTo(40 * 0.875 + 1 * 0.125);
    for (let i = 0; i < 50; i++) {
      s.feed(9 + 2 * i);
      s.due();
      s.at(s.t + 1);
      s.feed(8 + 2 * i);
    }
    expect(s.r.rttMs).toBeLessThan(2);
    expect(s.r.retryMs).toBe(20);
  });

  it("gives up a packet older than maxAgeMs even with requests left", () => {
    const s = setup({ maxAgeMs: 1000, maxRequests: 100, minRetryMs: 20, initialRttMs: 10 });
    s.feed(1, 3);
    let asked = 0;
    for (let t = 0; t <= 1100; t += 10) {
      s.at(t);
      asked += s.due().length;
    }
    expect(asked).toBe(50); // every 20 ms for 1 s
    expect([s.r.requested, s.r.unrepaired, s.r.pending]).toEqual([1, 1, 0]);
  });

  it("a full output buffer leaves the rest due for the next call", () => {
    const s = setup();
    s.feed(0, 11);
    const out = new Uint16Array(4);
    expect([...out.subarray(0, s.r.collect(out))]).toEqual([1, 2, 3, 4]);
    expect([...out.subarray(0, s.r.collect(out))]).toEqual([5, 6, 7, 8]);
    expect([...out.subarray(0, s.r.collect(out))]).toEqual([9, 10]);
    expect(s.r.collect(out)).toBe(0);
    expect(s.r.requested).toBe(10);
  });

  it("close() gives up what is pending: requested ones count as unrepaired", () => {
    const s = setup();
    s.feed(1, 4);
    s.due();
    s.feed(6); // 5 missing, not asked for yet
    s.r.close();
    expect([s.r.requested, s.r.repaired, s.r.unrepaired, s.r.pending]).toEqual([2, 0, 2, 0]);
    expect(s.due()).toEqual([]);
  });
});

describe("NackRequester: bounded window and resets", () => {
  it("a missing packet that leaves the window is given up; memory stays the window", () => {
    const s = setup({ windowSize: 32, maxGap: 16, maxAgeMs: 1e9, maxRequests: 255, minRetryMs: 1e9 });
    s.feed(0, 2);
    expect(s.due()).toEqual([1]);
    for (let seq = 3; seq <= 32; seq++) s.feed(seq);
    expect(s.r.pending).toBe(1); // 1 is 31 behind 32: still in the window
    s.feed(33);
    expect([s.r.pending, s.r.unrepaired]).toEqual([0, 1]);
    expect(s.feed(1)).toEqual([ARRIVAL_OLD]);
  });

  it("a jump forward beyond maxGap starts afresh: nothing asked for, pending requests given up", () => {
    const s = setup({ windowSize: 512 });
    s.feed(10, 12);
    s.due();
    expect(s.feed(12 + 257)).toEqual([ARRIVAL_NEW]);
    expect([s.r.resets, s.r.pending, s.r.unrepaired]).toEqual([1, 0, 1]);
    expect(s.due()).toEqual([]);
    expect(s.feed(270, 272)).toEqual([ARRIVAL_NEW, ARRIVAL_NEW]);
    expect(s.due()).toEqual([271]);
    expect(s.feed(11)).toEqual([ARRIVAL_OLD]); // from before the reset
    // the largest gap still asked for
    const t = setup({ windowSize: 512 });
    t.feed(0, 256);
    expect(t.due()).toHaveLength(255);
    expect(t.r.resets).toBe(0);
  });

  it("a sender that restarts behind the window: two packets in a row there start afresh", () => {
    const s = setup({ windowSize: 64 });
    for (let i = 40000; i < 40100; i++) s.feed(i);
    // 20000 is 20099 behind 40099 (a number more than 32768 ahead would be a jump forward instead)
    expect(s.feed(20000)).toEqual([ARRIVAL_OLD]);
    expect(s.feed(20001)).toEqual([ARRIVAL_NEW]);
    expect(s.r.resets).toBe(1);
    expect(s.feed(20003)).toEqual([ARRIVAL_NEW]);
    expect(s.due()).toEqual([20002]);
    // a lone straggler does not
    expect(s.feed(10000)).toEqual([ARRIVAL_OLD]);
    expect(s.feed(20004)).toEqual([ARRIVAL_NEW]);
    expect(s.r.resets).toBe(1);
  });

  it("defaults: asks 10 times at most, 20 ms apart at the least", () => {
    const s = setup({ initialRttMs: 1 });
    s.feed(1, 3);
    let asked = 0;
    for (let t = 0; t <= 1000; t++) {
      s.at(t);
      asked += s.due().length;
    }
    expect(asked).toBe(10);
    expect([s.r.requests, s.r.unrepaired]).toEqual([10, 1]);
  });

  it("refuses options out of range", () => {
    expect(() => new NackRequester({ windowSize: 500 })).toThrow(RangeError);
    expect(() => new NackRequester({ windowSize: 16 })).toThrow(RangeError);
    expect(() => new NackRequester({ maxRequests: 0 })).toThrow(RangeError);
    expect(() => new NackRequester({ maxRequests: 256 })).toThrow(RangeError);
  });
});

describe("NackRequester: a lossy path and a sender that answers NACKs", () => {
  it("10 % loss each way of every packet, resend after 15 ms: nearly everything repaired, the counts add up, spacing and limits kept", () => {
    let x = 20261203;
    const rnd = () => ((x = (x * 1664525 + 1013904223) >>> 0) / 2 ** 32);
    const opts = { maxRequests: 5, minRetryMs: 20 };
    const s = setup(opts);
    const rttMs = 15;
    const inFlight: Array<{ at: number; seq: number }> = [];
    const asked = new Map<number, number[]>();
    const arrivals = new Map<number, number>();
    let sent = 0;
    for (let t = 0; t < 20_000; t++) {
      s.at(t);
      // the sender: 150 packets per second, 10 % lost on the way
      if (t % 7 === 0) {
        const seq = (60_000 + sent++) & 0xffff;
        if (rnd() >= 0.1) inFlight.push({ at: t + 1, seq });
      }
      for (let i = inFlight.length - 1; i >= 0; i--) {
        const p = inFlight[i]!;
        if (p.at > t) continue;
        inFlight.splice(i, 1);
        const a = s.r.onPacket(p.seq);
        arrivals.set(a, (arrivals.get(a) ?? 0) + 1);
      }
      for (const seq of s.due()) {
        asked.set(seq, [...(asked.get(seq) ?? []), t]);
        if (rnd() >= 0.1 && rnd() >= 0.1) inFlight.push({ at: t + rttMs, seq }); // NACK and resend both cross the lossy path
      }
    }
    s.r.close();
    const r = s.r;
    expect(r.requested).toBeGreaterThan(200);
    expect(r.requested).toBe(asked.size);
    expect(r.requested).toBe(r.repaired + r.unrepaired);
    expect(r.repaired / r.requested).toBeGreaterThan(0.98);
    expect(arrivals.get(ARRIVAL_REPAIRED)).toBe(r.repaired);
    for (const times of asked.values()) {
      expect(times.length).toBeLessThanOrEqual(opts.maxRequests);
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(opts.minRetryMs);
    }
    expect(r.rttMs).toBeGreaterThanOrEqual(rttMs - 1);
    expect(r.rttMs).toBeLessThanOrEqual(rttMs + 8); // a packet's sample is from its NACK to its arrival, 1 ms steps
  });
});
