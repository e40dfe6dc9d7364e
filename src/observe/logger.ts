// Structured JSON logs on stdout (pino). Child loggers carry bound context.
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(level: string, name = "loyaltyd"): Logger {
  return pino({ name, level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.epochTime });
}
