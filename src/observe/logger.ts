// Structured JSON logs (pino): on stdout, or, under the demo's live screen, into a file
// with warnings and errors also handed to the screen. Child loggers carry bound context.
import { pino, type Logger } from "pino";

export type { Logger };

const options = (level: string, name: string) => ({ name, level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.epochTime });

export function createLogger(level: string, name = "loyaltyd"): Logger {
  return pino(options(level, name));
}

/** A log line as the screen shows it. */
export interface LogNote {
  atMs: number;
  level: "warn" | "error" | "fatal";
  msg: string;
}

const LEVEL_NAMES: Record<number, LogNote["level"]> = { 40: "warn", 50: "error", 60: "fatal" };
/** Fields every line has: not worth repeating on the screen. */
const COMMON_FIELDS = new Set(["level", "time", "pid", "hostname", "name", "msg"]);
const NOTE_FIELDS_MAX = 3;

/** The message and, after it, the line's first few plain fields (`nats=disconnect`): what a person needs to tell warnings apart. */
export function noteText(o: Record<string, unknown>): string {
  const fields = Object.entries(o)
    .filter(([k, v]) => !COMMON_FIELDS.has(k) && (typeof v === "string" || typeof v === "number" || typeof v === "boolean"))
    .slice(0, NOTE_FIELDS_MAX)
    .map(([k, v]) => `${k}=${String(v)}`);
  return [String(o.msg ?? ""), ...fields].join(" ");
}

/**
 * JSON lines appended to `file` (its directory made if missing; written synchronously, so
 * that the line before a fatal exit is not lost), and every warning or worse also passed
 * to `onNote`, whatever `level` is.
 */
export function createFileLogger(level: string, file: string, onNote: (note: LogNote) => void, name = "loyaltyd"): Logger {
  const notes = {
    write(line: string) {
      try {
        const o = JSON.parse(line) as { level?: number; time?: number };
        onNote({ atMs: o.time ?? Date.now(), level: LEVEL_NAMES[o.level ?? 40] ?? "warn", msg: noteText(o) });
      } catch {
        // A line that is not ours to read: the file has it.
      }
    },
  };
  const streams = pino.multistream([
    { level: level === "silent" ? "fatal" : level, stream: pino.destination({ dest: file, mkdir: true, sync: true }) },
    { level: "warn", stream: notes },
  ]);
  // The logger passes what either stream wants: the lower of the two levels.
  const rank = (l: string) => pino.levels.values[l] ?? Infinity;
  return pino(options(rank(level) < rank("warn") ? level : "warn", name), streams);
}
