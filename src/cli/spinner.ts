// A one-line spinner with elapsed time on a terminal's stderr; silent elsewhere,
// so scripts and logs see only the result line.
const frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** Starts the spinner; the returned stop function clears the line and may be called twice. */
export function startSpinner(label: string, stream: NodeJS.WriteStream = process.stderr): () => void {
  if (!stream.isTTY) return () => {};
  const started = Date.now();
  let i = 0;
  const draw = () => {
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    stream.write(`\r\x1b[K${frames[i++ % frames.length]} ${label} (${secs}s)`);
  };
  draw();
  const timer = setInterval(draw, 100);
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    stream.write("\r\x1b[K");
  };
}
