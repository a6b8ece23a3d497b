// Structured JSON logging for every berth process. Levels follow klog's habits:
// error, warn, info, debug (klog -v=4) and trace (-v=6 and above).
import { destination, type Logger as PinoLogger, pino, stdTimeFunctions } from "pino";

export type Logger = PinoLogger;
export const LogLevels = ["error", "warn", "info", "debug", "trace"] as const;
export type LogLevel = (typeof LogLevels)[number];

export function parseLogLevel(value: string): LogLevel {
  const level = value.toLowerCase();
  if ((LogLevels as readonly string[]).includes(level)) return level as LogLevel;
  throw new Error(`invalid log level "${value}" (want one of ${LogLevels.join(", ")})`);
}

/** A root logger writing JSON lines to a file descriptor (stderr unless told otherwise). */
export function newLogger(level: LogLevel = "info", fd = 2): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination({ fd, sync: true }),
  );
}
