// The demo's live status on a terminal: samples the engine's metrics every second, keeps
// the latest warnings and segment counts, and redraws the screen (screen.ts).
import type { LogNote } from "../observe/logger.js";
import { LiveScreen, headerLines, otpLine, type ConsoleSignIn, type PortalSignIn, statusLines, type DemoInfo, type Line, type SegmentCount, type StatusState, type Terminal } from "./screen.js";
import { SampleWindow, type Sample } from "./status.js";
import type { TryRequest } from "./try.js";

/** How often the status is redrawn, and the window its rates and quantiles cover. */
const REFRESH_MS = 1000;
const WINDOW_MS = 10_000;
const NOTES_KEPT = 3;

export class DemoStatus {
  private readonly screen: LiveScreen;
  private readonly window = new SampleWindow(WINDOW_MS);
  private readonly state: StatusState;
  private timer: NodeJS.Timeout | null = null;
  private sampling = false;

  constructor(
    term: Terminal,
    private readonly info: DemoInfo,
    segmentNames: string[],
    private readonly now: () => number = Date.now,
  ) {
    this.screen = new LiveScreen(term);
    const t = now();
    this.state = { startedAtMs: t, nowMs: t, simulator: "starting", figures: null, segments: segmentNames.map((name) => ({ name, members: null })), notes: [] };
  }

  /** A warning or error from the logger: shown under the status (the log file has them all). */
  note = (n: LogNote): void => {
    this.state.notes.push(n);
    if (this.state.notes.length > NOTES_KEPT) this.state.notes.shift();
  };

  /** Before the engine is up: one line saying so. */
  starting(what: string): void {
    this.screen.print([[{ text: what, style: "dim" }]]);
  }

  showTries(tries: TryRequest[], metricsUrl: string, console: ConsoleSignIn, portal: PortalSignIn | null = null): void {
    this.screen.print(headerLines(this.info, tries, metricsUrl, console, portal));
  }

  /** A loyalty.notify.otp notification: its code above the status, for the portal's sign-in. */
  otp(notification: Record<string, unknown>): void {
    this.screen.print([otpLine(notification, this.now())]);
  }

  /** Samples every second from now on; the first figures come after the second sample. */
  start(sample: () => Promise<Sample>): void {
    const tick = () => {
      if (this.sampling) return;
      this.sampling = true;
      sample()
        .then((s) => {
          this.state.figures = this.window.push(s) ?? this.state.figures;
          this.redraw();
        })
        .catch(() => undefined)
        .finally(() => (this.sampling = false));
    };
    tick();
    this.timer = setInterval(tick, REFRESH_MS);
    this.timer.unref();
  }

  simulator(state: StatusState["simulator"]): void {
    this.state.simulator = state;
    this.redraw();
  }

  segments(counts: SegmentCount[]): void {
    this.state.segments = counts;
  }

  redraw(): void {
    this.state.nowMs = this.now();
    this.screen.draw(statusLines(this.state, this.info));
  }

  /** Stops refreshing; the last status stays on screen with `after` below it. */
  stop(after: Line[]): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.redraw();
    this.screen.close(after);
  }
}
